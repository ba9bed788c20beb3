"""Feedback on hashes and acknowledgement of applied feed positions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.cursors import cursor_decode
from api.permissions import request_platform
from api.v1.match import batch_size_check
from api.v1.serializers import HashSerializer
from portal.exceptions import ApplicationError
from portal.platforms import services
from portal.platforms.models import HashFeedback


class HashFeedbackApi(APIView):
    required_scope = services.SCOPE_FEEDBACK_WRITE
    throttle_scope = "feedback"

    class InputSerializer(serializers.Serializer):
        class ReportSerializer(HashSerializer):
            outcome = serializers.ChoiceField(
                choices=HashFeedback.Outcome.values,
                help_text=(
                    "matched_pending_review: an upload matched and awaits review; blocked: "
                    "blocked or removed; not_violating: reviewed and not violating."
                ),
            )
            case_id = serializers.CharField(
                required=False,
                max_length=40,
                help_text="The pseudonymous case id from the feed, to report on one case only.",
            )

        feedback = serializers.ListField(
            child=ReportSerializer(), min_length=1, max_length=services.MAX_FEEDBACK_BATCH
        )

    class OutputSerializer(serializers.Serializer):
        class ResultSerializer(serializers.Serializer):
            algorithm = serializers.CharField(source="report.algorithm")
            value = serializers.CharField(source="report.value")
            outcome = serializers.CharField(source="report.outcome")
            status = serializers.ChoiceField(
                choices=[services.FEEDBACK_RECORDED, services.FEEDBACK_UNKNOWN_HASH],
                help_text=(
                    "recorded; or unknown_hash: the value is not in the list, nothing was "
                    "stored. Report the listed `value` that /match or the feed returned, "
                    "not your upload's own hash."
                ),
            )

        results = ResultSerializer(many=True)
        summary = serializers.DictField(
            child=serializers.IntegerField(),
            help_text=(
                'How many reports got each status, e.g. {"recorded": 2, "unknown_hash": 1}; '
                "unknown_hash above 0 means some reports named no listed hash."
            ),
        )

    @extend_schema(
        operation_id="feedback_submit",
        tags=["feedback"],
        request=InputSerializer,
        responses=OutputSerializer,
        description=(
            "Report what you did about hashes (latest report per hash wins). Other platforms "
            "only ever see counts; the victim sees counts on their case page. A value that "
            "is not in the list is answered `unknown_hash` (nothing stored; the rest of the "
            "batch is) and counted in `summary`."
        ),
    )
    def post(self, request: Request) -> Response:
        batch_size_check(request, key="feedback", limit=services.MAX_FEEDBACK_BATCH)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        results = services.feedback_submit(
            platform=request_platform(request),
            reports=[
                services.FeedbackReport(
                    algorithm=r["algorithm"],
                    value=r["value"],
                    outcome=r["outcome"],
                    case_id=r.get("case_id"),
                )
                for r in serializer.validated_data["feedback"]
            ],
        )
        return Response(
            self.OutputSerializer({"results": results, "summary": _summary(results)}).data
        )


def _summary(results: list[services.FeedbackResult]) -> dict[str, int]:
    """Reports per status; the documented statuses always appear, with 0 if none."""
    counts = dict.fromkeys([services.FEEDBACK_RECORDED, services.FEEDBACK_UNKNOWN_HASH], 0)
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts


class FeedAcknowledgeApi(APIView):
    required_scope = services.SCOPE_FEED_READ
    throttle_scope = "feedback"

    class InputSerializer(serializers.Serializer):
        cursor = serializers.CharField(
            required=False, help_text="A feed cursor whose changes you have all applied."
        )
        position = serializers.IntegerField(
            required=False, min_value=0, help_text="Or the feed position itself."
        )

        def validate(self, attrs: dict) -> dict:
            if ("cursor" in attrs) == ("position" in attrs):
                raise serializers.ValidationError(
                    "Send exactly one of `cursor` and `position`.", code="cursor_or_position"
                )
            return attrs

    class OutputSerializer(serializers.Serializer):
        applied_seq = serializers.IntegerField()
        applied_at = serializers.DateTimeField()
        fetched_seq = serializers.IntegerField()

    @extend_schema(
        operation_id="feed_acknowledge",
        tags=["feed"],
        request=InputSerializer,
        responses=OutputSerializer,
        description=(
            "Tell us you have applied every change up to this point (above all removals: "
            "the victim's page shows 'removed from N of M platforms' from this)."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "cursor" in data:
            position, _ = cursor_decode(data["cursor"])
        else:
            position = data["position"]
        if position is None:  # pragma: no cover - validate() requires one
            raise ApplicationError("Nothing to acknowledge.", code="cursor_or_position")
        platform = services.platform_acknowledge(
            platform=request_platform(request), position=position
        )
        return Response(self.OutputSerializer(platform).data)
