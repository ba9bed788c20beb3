"""The hash feed (incremental, cursor-paged) and the snapshot (streamed, compressed)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zlib
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.cursors import cursor_decode, cursor_encode
from api.permissions import request_platform
from api.v1.serializers import FeedbackCountsSerializer
from portal.cases.models import SubmittedHash
from portal.exceptions import ApplicationError
from portal.platforms import feed
from portal.platforms.feed import FeedFilters
from portal.platforms.services import SCOPE_FEED_READ

_FEEDBACK_HELP = "How many platforms reported each outcome for this hash (counts only)."


class FeedEntrySerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="Feed position of this change.")
    op = serializers.ChoiceField(choices=[feed.OP_ADD, feed.OP_REMOVE])
    algorithm = serializers.ChoiceField(choices=SubmittedHash.Algorithm.values)
    value = serializers.CharField(help_text="Lower-case hex.")
    media_kind = serializers.ChoiceField(choices=SubmittedHash.MediaKind.values)
    quality = serializers.IntegerField(allow_null=True, help_text="PDQ quality, 0-100.")
    status = serializers.ChoiceField(choices=SubmittedHash.Status.values)
    case_id = serializers.CharField(help_text="Pseudonymous case id, stable for your platform.")
    item_id = serializers.CharField(help_text="Pseudonymous id of the file the hash came from.")
    changed_at = serializers.DateTimeField()
    feedback = FeedbackCountsSerializer(help_text=_FEEDBACK_HELP)


class FilterSerializer(serializers.Serializer):
    algorithm = serializers.ChoiceField(choices=SubmittedHash.Algorithm.values, required=False)
    media_kind = serializers.ChoiceField(choices=SubmittedHash.MediaKind.values, required=False)


def _filters(request: Request) -> FeedFilters:
    serializer = FilterSerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return FeedFilters(**serializer.validated_data)


class HashFeedApi(APIView):
    required_scope = SCOPE_FEED_READ
    throttle_scope = "feed"

    class InputSerializer(FilterSerializer):
        cursor = serializers.CharField(required=False, help_text="From a previous response.")
        limit = serializers.IntegerField(
            required=False,
            min_value=1,
            max_value=feed.MAX_PAGE_SIZE,
            default=feed.DEFAULT_PAGE_SIZE,
        )

    class OutputSerializer(serializers.Serializer):
        entries = FeedEntrySerializer(many=True)
        cursor = serializers.CharField(help_text="Send this as `cursor` to continue.")
        position = serializers.IntegerField(help_text="Feed position `cursor` stands for.")
        head = serializers.IntegerField(help_text="Newest feed position when served.")
        has_more = serializers.BooleanField(help_text="True if more entries are ready now.")

    @extend_schema(
        operation_id="hashes_feed",
        tags=["feed"],
        parameters=[
            InputSerializer,
            OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER),
        ],
        responses={
            200: OutputSerializer,
            304: OpenApiResponse(description="Nothing changed since the ETag you sent."),
        },
        description=(
            "Changes (additions and removals) after the cursor, oldest first. A removal "
            "(op `remove`) means: stop blocking this hash. Without a cursor the feed starts "
            "at the beginning. Follow `cursor` until `has_more` is false, then poll with "
            "the last cursor and `If-None-Match` set to the last ETag."
        ),
    )
    def get(self, request: Request) -> Response:
        platform = request_platform(request)
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        params = serializer.validated_data
        filters = FeedFilters(
            algorithm=params.get("algorithm"), media_kind=params.get("media_kind")
        )
        after = 0
        if "cursor" in params:
            after, cursor_filters = cursor_decode(params["cursor"])
            if (filters.algorithm and filters.algorithm != cursor_filters.algorithm) or (
                filters.media_kind and filters.media_kind != cursor_filters.media_kind
            ):
                raise ApplicationError(
                    "This cursor was issued for other filters; keep the filters or start over.",
                    code="bad_cursor",
                )
            filters = cursor_filters
        limit = params["limit"]
        head = feed.feed_head()
        etag = _etag(
            f"{platform.pk}:{after}:{head}:{limit}:{filters.algorithm}:{filters.media_kind}"
        )
        headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            return Response(status=304, headers=headers)
        page = feed.feed_page_get(
            platform=platform, after=after, limit=limit, filters=filters, head=head
        )
        feed.platform_fetched_record(platform=platform, position=page.position)
        data = {
            "entries": page.entries,
            "cursor": cursor_encode(position=page.position, filters=filters),
            "position": page.position,
            "head": page.head,
            "has_more": page.has_more,
        }
        return Response(self.OutputSerializer(data).data, headers=headers)


def _etag(text: str) -> str:
    return 'W/"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


class SnapshotContentNegotiation(DefaultContentNegotiation):
    """`?format=` is the snapshot's own parameter (ndjson/csv), not DRF's renderer switch."""

    def select_renderer(self, request, renderers, format_suffix=None):
        # Errors are still rendered as JSON; a success is a gzip stream, not rendered.
        return renderers[0], renderers[0].media_type


SNAPSHOT_FIELDS = ["seq", "algorithm", "value", "media_kind", "quality", "case_id", "item_id"]


class HashSnapshotApi(APIView):
    required_scope = SCOPE_FEED_READ
    throttle_scope = "snapshot"
    content_negotiation_class = SnapshotContentNegotiation

    class InputSerializer(FilterSerializer):
        format = serializers.ChoiceField(choices=["ndjson", "csv"], default="ndjson")

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
        rows = feed.snapshot_rows(platform=platform, position=position, filters=filters)
        lines = (_ndjson_lines if fmt == "ndjson" else _csv_lines)(
            rows=rows, cursor=cursor, position=position, filters=filters
        )
        response = StreamingHttpResponse(
            _gzip(_recorded(lines, platform=platform, position=position)),
            content_type="application/gzip",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="takeback-snapshot-{position}.{fmt}.gz"'
        )
        response["Takeback-Cursor"] = cursor
        response["Takeback-Position"] = str(position)
        response["Cache-Control"] = "private, no-store"
        return response


def _ndjson_lines(
    *, rows: Iterable[feed.SnapshotRow], cursor: str, position: int, filters: FeedFilters
) -> Iterator[str]:
    yield _json_line(
        {
            "type": "snapshot",
            "cursor": cursor,
            "position": position,
            "algorithm": filters.algorithm,
            "media_kind": filters.media_kind,
            "taken_at": timezone.now().isoformat(),
        }
    )
    count = 0
    for row in rows:
        count += 1
        yield _json_line({"type": "hash", **row.as_dict()})
    yield _json_line({"type": "end", "cursor": cursor, "position": position, "count": count})


def _json_line(value: dict) -> str:
    return json.dumps(value, separators=(",", ":")) + "\n"


def _csv_lines(
    *, rows: Iterable[feed.SnapshotRow], cursor: str, position: int, filters: FeedFilters
) -> Iterator[str]:
    yield f"# takeback snapshot cursor={cursor} position={position}\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SNAPSHOT_FIELDS)
    count = 0
    for row in rows:
        count += 1
        values = row.as_dict()
        writer.writerow(["" if values[k] is None else values[k] for k in SNAPSHOT_FIELDS])
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
    yield f"# end cursor={cursor} position={position} count={count}\n"


def _recorded(lines: Iterator[str], *, platform, position: int) -> Iterator[str]:
    """Pass the lines through; once all were produced, note the platform got `position`."""
    yield from lines
    feed.platform_fetched_record(platform=platform, position=position)


def _gzip(lines: Iterator[str], *, flush_bytes: int = 1 << 16) -> Iterator[bytes]:
    """Compress on the fly (gzip container), emitting about every `flush_bytes` of input."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    pending: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode()
        pending.append(data)
        size += len(data)
        if size >= flush_bytes:
            out = compressor.compress(b"".join(pending))
            pending, size = [], 0
            if out:
                yield out
    yield compressor.compress(b"".join(pending)) + compressor.flush()
