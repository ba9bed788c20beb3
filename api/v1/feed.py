"""The hash feed: incremental, cursor-paged changes (the snapshot is in snapshot.py)."""

from __future__ import annotations

import hashlib

from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.cursors import cursor_decode, cursor_encode
from api.permissions import request_platform
from api.v1.serializers import FeedbackCountsSerializer
from hashing.algorithms import SHARED_ALGORITHMS
from portal.cases.models import SubmittedHash
from portal.exceptions import ApplicationError
from portal.platforms import feed
from portal.platforms.feed import FeedFilters
from portal.platforms.services import SCOPE_FEED_READ

_FEEDBACK_HELP = "How many platforms reported each outcome for this hash (counts only)."


class FeedEntrySerializer(serializers.Serializer):
    """Documents `feed.entry_wire`, the one wire form of an entry (webhooks send it too)."""

    seq = serializers.IntegerField(help_text="Feed position of this change.")
    op = serializers.ChoiceField(choices=[feed.OP_ADD, feed.OP_REMOVE])
    algorithm = serializers.ChoiceField(choices=SHARED_ALGORITHMS)
    value = serializers.CharField(help_text="Lower-case hex.")
    media_kind = serializers.ChoiceField(choices=SubmittedHash.MediaKind.values)
    quality = serializers.IntegerField(allow_null=True, help_text="PDQ quality, 0-100.")
    status = serializers.ChoiceField(choices=SubmittedHash.Status.values)
    case_id = serializers.CharField(help_text="Pseudonymous case id, stable for your platform.")
    item_id = serializers.CharField(help_text="Pseudonymous id of the file the hash came from.")
    changed_at = serializers.DateTimeField()
    feedback = FeedbackCountsSerializer(help_text=_FEEDBACK_HELP)
    frame = serializers.IntegerField(
        allow_null=True,
        help_text=(
            "For a video's vPDQ frame (a PDQ hash, media_kind video): the sampled frame's "
            "number. Group a video's frames by item_id. Null for every other hash."
        ),
    )
    timestamp = serializers.FloatField(
        allow_null=True, help_text="For a video's vPDQ frame: its time in the video (s)."
    )


class FilterSerializer(serializers.Serializer):
    algorithm = serializers.ChoiceField(choices=SHARED_ALGORITHMS, required=False)
    media_kind = serializers.ChoiceField(choices=SubmittedHash.MediaKind.values, required=False)


class HashFeedApi(APIView):
    required_scope = SCOPE_FEED_READ
    throttle_scope = "feed"

    class InputSerializer(FilterSerializer):
        # Blank is let through to get() for its own message: `cursor=` is nearly always a
        # shell variable that was never set, and "may not be blank" doesn't say so.
        cursor = serializers.CharField(
            required=False,
            allow_blank=True,
            help_text=(
                "From a previous response or the snapshot; leave it out to start from the "
                "beginning. Empty is refused (bad_cursor)."
            ),
        )
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
        if params.get("cursor") == "":
            raise ApplicationError(
                "The cursor is empty (a shell variable that was never set?). Send the cursor "
                "of the snapshot or of your last page, or leave it out to start from the "
                "beginning of the feed.",
                code="bad_cursor",
            )
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
        page = feed.feed_serve(
            platform=platform, after=after, limit=limit, filters=filters, head=head
        )
        data = {
            "entries": [feed.entry_wire(entry) for entry in page.entries],
            "cursor": cursor_encode(position=page.position, filters=filters),
            "position": page.position,
            "head": page.head,
            "has_more": page.has_more,
        }
        return Response(self.OutputSerializer(data).data, headers=headers)


def _etag(text: str) -> str:
    return 'W/"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
