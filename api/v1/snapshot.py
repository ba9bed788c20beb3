"""The snapshot: every active hash, streamed and gzip-compressed, with its cursor."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.views import APIView

from api.cursors import cursor_encode
from api.permissions import request_platform
from api.v1.feed import FilterSerializer
from hashing.platform import snapshot_format
from portal.platforms import feed, snapshot
from portal.platforms.feed import FeedFilters
from portal.platforms.services import SCOPE_FEED_READ


class SnapshotContentNegotiation(DefaultContentNegotiation):
    """`?format=` is the snapshot's own parameter (ndjson/csv), not DRF's renderer switch."""

    def select_renderer(self, request, renderers, format_suffix=None):
        # Errors are still rendered as JSON; a success is a gzip stream, not rendered.
        return renderers[0], renderers[0].media_type


class HashSnapshotApi(APIView):
    required_scope = SCOPE_FEED_READ
    throttle_scope = "snapshot"
    content_negotiation_class = SnapshotContentNegotiation

    class InputSerializer(FilterSerializer):
        format = serializers.ChoiceField(choices=snapshot.SNAPSHOT_FORMATS, default="ndjson")
        # Binary only (NDJSON and CSV are always gzip): gzip it at level 1.
        compress = serializers.BooleanField(default=False)

    @extend_schema(
        operation_id="hashes_snapshot",
        tags=["feed"],
        parameters=[InputSerializer],
        responses={
            (200, "application/gzip"): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description=(
                    'A gzip file. NDJSON: a first line `{"type": "snapshot", "cursor", '
                    '"position", ...}`, one `{"type": "hash", ...}` line per active hash '
                    'and a last line `{"type": "end", "cursor", "count"}`. CSV: a '
                    "`# takeback snapshot cursor=... position=...` line, a header row, the "
                    "hashes and a `# end cursor=... count=...` line. The cursor is also in the "
                    "`Takeback-Cursor` header; follow the feed from it. Binary with "
                    "`compress=true`: the binary snapshot, gzip-compressed."
                ),
            ),
            (200, snapshot_format.CONTENT_TYPE): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description=(
                    "`format=binary`: a header (magic `TKBKSNAP`, version, record size, "
                    "the JSON of the NDJSON first line), 80-byte fixed-width records and a "
                    "trailer (count, position, CRC-32); see docs/snapshot-format.md."
                ),
            ),
        },
        description="Every active hash, streamed and gzip-compressed, with the cursor "
        "at which it was taken: bootstrap with this, then follow the feed.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        platform = request_platform(request)
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        filters = FeedFilters(
            algorithm=params.get("algorithm"), media_kind=params.get("media_kind")
        )
        fmt = params["format"]
        gzipped = fmt != "binary" or params["compress"]
        # The head is read before any row (see portal/platforms/feed.py).
        position = feed.feed_head()
        cursor = cursor_encode(position=position, filters=filters)
        response = StreamingHttpResponse(
            snapshot.snapshot_stream(
                platform=platform,
                position=position,
                cursor=cursor,
                filters=filters,
                fmt=fmt,
                compress=gzipped,
            ),
            content_type="application/gzip" if gzipped else snapshot_format.CONTENT_TYPE,
        )
        extension = {"binary": "bin"}.get(fmt, fmt) + (".gz" if gzipped else "")
        response["Content-Disposition"] = (
            f'attachment; filename="takeback-snapshot-{position}.{extension}"'
        )
        response["Takeback-Cursor"] = cursor
        response["Takeback-Position"] = str(position)
        response["Cache-Control"] = "private, no-store"
        return response
