"""The StopNCII-compatible endpoints: FetchHashes, SubmitFeedback, SubmitHashes.

Same paths, parameters and JSON as StopNCII.org as threatexchange's
`StopNCIIAPI` speaks them (threatexchange/exchanges/clients/stopncii/api.py),
so a platform switches by changing only its base URL. Views parse and shape;
the logic is in `portal.platforms.stopncii`. Errors are the API's JSON errors
(`api.exceptions`), with a 4xx status the client's `raise_for_status` reports.
Field names are the contract's (camelCase), not ours.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exceptions import ApiError
from api.permissions import request_platform
from api.stopncii import schema  # noqa: F401 - registers the key pair with drf-spectacular
from api.stopncii.authentication import StopNCIIKeyAuthentication
from api.stopncii.tokens import BadPageToken, page_token_decode, page_token_encode
from hashing.algorithms import STOPNCII_SIGNALS
from portal.cases.services import MAX_ITEMS_PER_SUBMISSION
from portal.exceptions import ApplicationError
from portal.platforms import stopncii
from portal.platforms.pseudonyms import pseudonymous_case_id
from portal.platforms.services import SCOPE_STOPNCII

DEFAULT_PAGE_SIZE = 800  # the client's default
MAX_PAGE_SIZE = 10_000
MAX_FEEDBACK_BATCH = 1_000
# Timestamps are Unix seconds; anything past year 9999 is nonsense, not a time.
MAX_TIMESTAMP = 253_402_300_799

_HEX_DIGITS = frozenset("0123456789abcdef")
_SIGNAL_TYPES = list(STOPNCII_SIGNALS)
_STATUSES = [stopncii.STATUS_ACTIVE, stopncii.STATUS_WITHDRAWN, stopncii.STATUS_DELETED]


def _hash_value_field(value: str) -> str:
    value = value.strip().lower()
    if len(value) not in stopncii.EXCHANGED_HEX_LENGTHS or not set(value) <= _HEX_DIGITS:
        raise serializers.ValidationError(
            "hashValue must be hexadecimal: 64 digits (PDQ) or 32 (MD5).", code="bad_hash"
        )
    return value


class _StopNCIIApi(APIView):
    authentication_classes = [StopNCIIKeyAuthentication]
    required_scope = SCOPE_STOPNCII
    throttle_scope = "stopncii"


# FetchHashes ---------------------------------------------------------------------


class _CSPFeedbackSerializer(serializers.Serializer):
    feedbackValue = serializers.CharField()
    # The serializer metaclass moves declared fields into _declared_fields, so this wire
    # name doesn't replace Field.source at runtime; the stubs see a class attribute.
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="Your platform's name on your own verdicts, else empty."
    )
    tags = serializers.ListField(child=serializers.CharField())


class _HashRecordSerializer(serializers.Serializer):
    lastModtimestamp = serializers.IntegerField(help_text="Unix seconds of the last change.")
    signalType = serializers.ChoiceField(choices=_SIGNAL_TYPES)
    hashValue = serializers.CharField(help_text="Lower-case hex.")
    hashStatus = serializers.ChoiceField(
        choices=_STATUSES, help_text="Withdrawn or Deleted: delete this hash."
    )
    caseNumbers = serializers.DictField(
        child=serializers.ChoiceField(choices=_STATUSES),
        help_text="Pseudonymous case id (stable for your platform) -> that case's status.",
    )
    CSPFeedbacks = _CSPFeedbackSerializer(many=True)


class FetchHashesApi(_StopNCIIApi):
    class InputSerializer(serializers.Serializer):
        startTimestamp = serializers.IntegerField(
            min_value=0, max_value=MAX_TIMESTAMP, required=False, default=0
        )
        pageSize = serializers.IntegerField(
            min_value=1, max_value=MAX_PAGE_SIZE, required=False, default=DEFAULT_PAGE_SIZE
        )
        nextPageToken = serializers.CharField(
            required=False, allow_blank=True, max_length=2000, trim_whitespace=True
        )

    class OutputSerializer(serializers.Serializer):
        count = serializers.IntegerField()
        nextPageToken = serializers.CharField(
            help_text="Opaque; continues exactly after this page (also once caught up)."
        )
        nextSetTimestamp = serializers.IntegerField(
            help_text="Checkpoint: the newest record time served so far."
        )
        hasMoreRecords = serializers.BooleanField()
        hashRecords = _HashRecordSerializer(many=True)

    @extend_schema(
        operation_id="stopncii_fetch_hashes",
        tags=["stopncii"],
        parameters=[InputSerializer],
        responses={200: OutputSerializer},
        description="Hash records changed since startTimestamp (or after nextPageToken).",
    )
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        platform = request_platform(request)
        token = data.get("nextPageToken") or ""
        if token:
            try:
                position = page_token_decode(platform=platform, token=token)
            except BadPageToken as exc:
                raise ApiError(status_code=400, code="bad_page_token", message=str(exc)) from exc
        else:
            position = stopncii.feed_position_start(
                platform=platform, start_timestamp=data["startTimestamp"]
            )
        page = stopncii.stopncii_feed_page(
            platform=platform, position=position, limit=data["pageSize"]
        )
        return Response(
            {
                "count": len(page.records),
                # Always returned: a client that keeps the last token resumes
                # exactly; the reference client stops when hasMoreRecords is false.
                "nextPageToken": page_token_encode(platform=platform, position=page.position),
                "nextSetTimestamp": page.position.max_timestamp,
                "hasMoreRecords": page.has_more,
                "hashRecords": [_record_json(record) for record in page.records],
            }
        )


def _record_json(record: stopncii.HashRecord) -> dict[str, Any]:
    return {
        "lastModtimestamp": record.last_mod_timestamp,
        "signalType": record.signal_type,
        "hashValue": record.hash_value,
        "hashStatus": record.hash_status,
        "caseNumbers": record.case_numbers,
        "CSPFeedbacks": [
            {"feedbackValue": fb.feedback_value, "source": fb.source, "tags": list(fb.tags)}
            for fb in record.csp_feedbacks
        ],
    }


class _CountedBatch(serializers.Serializer):
    count = serializers.IntegerField(min_value=0, required=False)

    items_field = ""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        count = attrs.get("count")
        if count is not None and count != len(attrs[self.items_field]):
            raise serializers.ValidationError(
                {"count": f"count is {count} but {len(attrs[self.items_field])} records were sent."}
            )
        return attrs


# SubmitFeedback ------------------------------------------------------------------


class _FeedbackSerializer(serializers.Serializer):
    hashValue = serializers.CharField(max_length=64)
    feedbackValue = serializers.CharField(
        max_length=32, help_text="Blocked, NotBlocked, PendingReview, None or QualityUnknown."
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=50
    )

    def validate_hashValue(self, value: str) -> str:
        return _hash_value_field(value)


class SubmitFeedbackApi(_StopNCIIApi):
    class InputSerializer(_CountedBatch):
        # many=True passes max_length on to ListSerializer; the DRF stubs don't know it.
        hashFeedbacks = _FeedbackSerializer(  # type: ignore[call-arg]
            many=True, allow_empty=False, max_length=MAX_FEEDBACK_BATCH
        )
        items_field = "hashFeedbacks"

    class OutputSerializer(serializers.Serializer):
        count = serializers.IntegerField()
        recorded = serializers.IntegerField(help_text="Verdicts recorded.")
        ignored = serializers.IntegerField(help_text='"None"/"QualityUnknown": nothing recorded.')

    @extend_schema(
        operation_id="stopncii_submit_feedback",
        tags=["stopncii"],
        request=InputSerializer,
        responses={200: OutputSerializer},
        description="What you did about hashes. All or nothing: an unknown hash refuses the batch.",
    )
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        items = [
            stopncii.FeedbackItem(hash_value=fb["hashValue"], feedback_value=fb["feedbackValue"])
            for fb in body.validated_data["hashFeedbacks"]
        ]
        result = stopncii.stopncii_feedback_submit(platform=request_platform(request), items=items)
        return Response({"count": len(items), **result})


# SubmitHashes ---------------------------------------------------------------------


class _PartnerFeedbackSerializer(serializers.Serializer):
    feedbackValue = serializers.CharField(max_length=32)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=50
    )

    def validate_feedbackValue(self, value: str) -> str:
        if value not in stopncii.FEEDBACK_OUTCOMES:
            raise serializers.ValidationError(
                f"Unsupported feedbackValue {value!r}.", code="bad_feedback_value"
            )
        return value


class _PartnerRecordSerializer(serializers.Serializer):
    signalType = serializers.CharField(
        max_length=64,
        help_text="ImagePDQ or VideoMD5 ('StopNCIISignalType.ImagePDQ' is accepted too).",
    )
    hashValue = serializers.CharField(max_length=64)
    lastModtimestamp = serializers.IntegerField(required=False)
    # many=True passes max_length on to ListSerializer; the DRF stubs don't know it.
    CSPFeedbacks = _PartnerFeedbackSerializer(  # type: ignore[call-arg]
        many=True, required=False, max_length=10
    )

    def validate_signalType(self, value: str) -> str:
        try:
            return stopncii.signal_type_parse(value)
        except ApplicationError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from exc

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        value = _hash_value_field(attrs["hashValue"])
        expected = 64 if attrs["signalType"] == stopncii.SIGNAL_IMAGE_PDQ else 32
        if len(value) != expected:
            raise serializers.ValidationError(
                {"hashValue": f"A {attrs['signalType']} hash has {expected} hex digits."}
            )
        attrs["hashValue"] = value
        feedbacks = attrs.get("CSPFeedbacks") or []
        attrs["feedbackValue"] = feedbacks[-1]["feedbackValue"] if feedbacks else None
        return attrs


class SubmitHashesApi(_StopNCIIApi):
    # Creating cases is closed by default: see portal.platforms.stopncii.stopncii_hashes_submit.
    required_scope = stopncii.SCOPE_STOPNCII_SUBMIT

    class InputSerializer(_CountedBatch):
        # many=True passes max_length on to ListSerializer; the DRF stubs don't know it.
        hashRecords = _PartnerRecordSerializer(  # type: ignore[call-arg]
            many=True, allow_empty=False, max_length=MAX_ITEMS_PER_SUBMISSION
        )
        items_field = "hashRecords"

    class OutputSerializer(serializers.Serializer):
        count = serializers.IntegerField()
        caseNumber = serializers.CharField(help_text="Your pseudonymous id of the new case.")

    @extend_schema(
        operation_id="stopncii_submit_hashes",
        tags=["stopncii"],
        request=InputSerializer,
        responses={200: OutputSerializer},
        description="A trusted partner adds hashes as a new case (needs scope stopncii_submit).",
    )
    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        platform = request_platform(request)
        hashes = [
            stopncii.PartnerHash(
                signal_type=record["signalType"],
                hash_value=record["hashValue"],
                feedback_value=record["feedbackValue"],
            )
            for record in body.validated_data["hashRecords"]
        ]
        case = stopncii.stopncii_hashes_submit(platform=platform, hashes=hashes)
        return Response(
            {
                "count": len(hashes),
                # The partner's own pseudonymous id for the new case, as FetchHashes shows it.
                "caseNumber": pseudonymous_case_id(platform=platform, case_id=case.pk),
            }
        )
