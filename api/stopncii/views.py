"""The StopNCII-compatible endpoints: FetchHashes, SubmitFeedback, SubmitHashes.

Same paths, parameters and JSON as StopNCII.org as threatexchange's
`StopNCIIAPI` speaks them (threatexchange/exchanges/clients/stopncii/api.py),
so a platform switches by changing only its base URL. Views parse and shape;
the logic is in `portal.platforms.stopncii`. Errors are the API's JSON errors
(`api.exceptions`), with a 4xx status the client's `raise_for_status` reports.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exceptions import ApiError
from api.permissions import request_platform
from api.stopncii.authentication import StopNCIIKeyAuthentication
from api.stopncii.tokens import BadPageToken, page_token_decode, page_token_encode
from hashing.distance import HEX_LENGTHS
from portal.cases.services import MAX_ITEMS_PER_SUBMISSION
from portal.platforms import stopncii
from portal.platforms.services import SCOPE_STOPNCII, pseudonymous_case_id

DEFAULT_PAGE_SIZE = 800  # the client's default
MAX_PAGE_SIZE = 10_000
MAX_FEEDBACK_BATCH = 1_000
# Timestamps are Unix seconds; anything past year 9999 is nonsense, not a time.
MAX_TIMESTAMP = 253_402_300_799

_HEX_DIGITS = frozenset("0123456789abcdef")


def _hash_value_field(value: str) -> str:
    value = value.strip().lower()
    if len(value) not in (HEX_LENGTHS["pdq"], HEX_LENGTHS["md5"]) or not set(value) <= _HEX_DIGITS:
        raise serializers.ValidationError(
            "hashValue must be hexadecimal: 64 digits (PDQ) or 32 (MD5).", code="bad_hash"
        )
    return value


class _StopNCIIApi(APIView):
    authentication_classes = [StopNCIIKeyAuthentication]
    required_scope = SCOPE_STOPNCII
    throttle_scope = "stopncii"


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


class SubmitFeedbackApi(_StopNCIIApi):
    class FeedbackSerializer(serializers.Serializer):
        hashValue = serializers.CharField(max_length=64)
        feedbackValue = serializers.CharField(max_length=32)
        tags = serializers.ListField(
            child=serializers.CharField(max_length=200), required=False, max_length=50
        )

        def validate_hashValue(self, value: str) -> str:
            return _hash_value_field(value)

    class InputSerializer(_CountedBatch):
        hashFeedbacks = serializers.ListField(
            child=serializers.DictField(), allow_empty=False, max_length=MAX_FEEDBACK_BATCH
        )
        items_field = "hashFeedbacks"

        def validate_hashFeedbacks(self, value: list[dict]) -> list[dict]:
            parsed = SubmitFeedbackApi.FeedbackSerializer(data=value, many=True)
            parsed.is_valid(raise_exception=True)
            return parsed.validated_data

    def post(self, request: Request) -> Response:
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        items = [
            stopncii.FeedbackItem(hash_value=fb["hashValue"], feedback_value=fb["feedbackValue"])
            for fb in body.validated_data["hashFeedbacks"]
        ]
        result = stopncii.stopncii_feedback_submit(platform=request_platform(request), items=items)
        return Response({"count": len(items), **result})


class SubmitHashesApi(_StopNCIIApi):
    # Creating cases is closed by default: see portal.platforms.stopncii.stopncii_hashes_submit.
    required_scope = stopncii.SCOPE_STOPNCII_SUBMIT

    class RecordSerializer(serializers.Serializer):
        signalType = serializers.CharField(max_length=64)
        hashValue = serializers.CharField(max_length=64)
        lastModtimestamp = serializers.IntegerField(required=False)
        CSPFeedbacks = serializers.ListField(
            child=serializers.DictField(), required=False, max_length=10
        )

        def validate_signalType(self, value: str) -> str:
            try:
                return stopncii.signal_type_parse(value)
            except stopncii.ApplicationError as exc:
                raise serializers.ValidationError(exc.message, code=exc.code) from exc

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            value = _hash_value_field(attrs["hashValue"])
            expected = 64 if attrs["signalType"] == stopncii.SIGNAL_IMAGE_PDQ else 32
            if len(value) != expected:
                raise serializers.ValidationError(
                    {"hashValue": f"A {attrs['signalType']} hash has {expected} hex digits."}
                )
            attrs["hashValue"] = value
            values = [fb.get("feedbackValue") for fb in attrs.get("CSPFeedbacks", [])]
            for feedback_value in values:
                if feedback_value not in stopncii.FEEDBACK_OUTCOMES:
                    raise serializers.ValidationError(
                        {"CSPFeedbacks": f"Unsupported feedbackValue {feedback_value!r}."}
                    )
            attrs["feedbackValue"] = values[-1] if values else None
            return attrs

    class InputSerializer(_CountedBatch):
        hashRecords = serializers.ListField(
            child=serializers.DictField(), allow_empty=False, max_length=MAX_ITEMS_PER_SUBMISSION
        )
        items_field = "hashRecords"

        def validate_hashRecords(self, value: list[dict]) -> list[dict]:
            parsed = SubmitHashesApi.RecordSerializer(data=value, many=True)
            parsed.is_valid(raise_exception=True)
            return parsed.validated_data

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
