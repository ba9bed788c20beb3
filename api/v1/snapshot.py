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
                    "`Takeback-Cursor` header; follow the feed from it."
                ),
            )
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
        # The head is read before any row (see portal/platforms/feed.py).
        position = feed.feed_head()
        cursor = cursor_encode(position=position, filters=filters)
        response = StreamingHttpResponse(
            snapshot.snapshot_stream(
                platform=platform, position=position, cursor=cursor, filters=filters, fmt=fmt
            ),
            content_type="application/gzip",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="takeback-snapshot-{position}.{fmt}.gz"'
        )
        response["Takeback-Cursor"] = cursor
        response["Takeback-Position"] = str(position)
        response["Cache-Control"] = "private, no-store"
        return response
