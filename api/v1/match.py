"""POST /api/v1/match: which stored hashes are near the caller's hashes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import request_platform
from api.v1.serializers import (
    HEX_VALIDATOR,
    FeedbackCountsSerializer,
    HashSerializer,
    hash_value_check,
)
from hashing.distance import MATCH_THRESHOLDS
from portal.exceptions import ApplicationError
from portal.platforms import matching
from portal.platforms.services import SCOPE_MATCH


def batch_size_check(request: Request, *, key: str, limit: int) -> None:
    """Refuse an oversize batch up front, with its own code, before validating items."""
    data = request.data
    if isinstance(data, dict) and isinstance(data.get(key), list) and len(data[key]) > limit:
        raise ApplicationError(
            f"Send at most {limit} items in `{key}` per request.",
            code="batch_too_large",
            extra={"max_items": limit, "received": len(data[key])},
        )


class HashMatchApi(APIView):
    required_scope = SCOPE_MATCH
    throttle_scope = "match"

    class InputSerializer(serializers.Serializer):
        class QuerySerializer(HashSerializer):
            ALGORITHMS = tuple(sorted(matching.MATCHABLE_ALGORITHMS))
            algorithm = serializers.ChoiceField(choices=ALGORITHMS)
            variants = serializers.ListField(
                child=serializers.CharField(
                    max_length=64, trim_whitespace=False, validators=[HEX_VALIDATOR]
                ),
                required=False,
                max_length=matching.MAX_VARIANTS,
                help_text=(
                    "Other forms of the same picture to try, e.g. the 7 other PDQ dihedral "
                    "variants (rotations and mirrors) you computed from the pixels "
                    "(`hashing.pdq.pdq_dihedral`). Same algorithm as `value`."
                ),
            )

            def validate(self, attrs: dict) -> dict:
                attrs = super().validate(attrs)
                for variant in attrs.get("variants", []):
                    hash_value_check(attrs["algorithm"], variant, field="variants")
                return attrs

        hashes = serializers.ListField(
            child=QuerySerializer(), min_length=1, max_length=matching.MAX_MATCH_BATCH
        )
        thresholds = serializers.DictField(
            child=serializers.IntegerField(min_value=0),
            required=False,
            help_text=(
                "Optional stricter thresholds per algorithm (bits). Defaults: "
                + ", ".join(
                    f"{a} {MATCH_THRESHOLDS[a]}" for a in sorted(matching.MATCHABLE_ALGORITHMS)
                )
                + "."
            ),
        )

        def validate_thresholds(self, value: dict) -> dict:
            for algorithm, limit in value.items():
                if algorithm not in matching.MATCHABLE_ALGORITHMS:
                    raise serializers.ValidationError(
                        f"Unknown algorithm {algorithm!r}.", code="invalid_choice"
                    )
                if limit > MATCH_THRESHOLDS[algorithm]:
                    raise serializers.ValidationError(
                        f"The {algorithm} threshold can only be made stricter "
                        f"(at most {MATCH_THRESHOLDS[algorithm]}).",
                        code="max_value",
                    )
            return value

    class OutputSerializer(serializers.Serializer):
        class ResultSerializer(serializers.Serializer):
            class HitSerializer(serializers.Serializer):
                algorithm = serializers.CharField()
                value = serializers.CharField()
                distance = serializers.IntegerField()
                query_value = serializers.CharField(help_text="Which form you sent matched.")
                seq = serializers.IntegerField(help_text="The hash's current feed position.")
                media_kind = serializers.CharField()
                case_id = serializers.CharField()
                item_id = serializers.CharField()
                feedback = FeedbackCountsSerializer()
                frame = serializers.IntegerField(
                    allow_null=True,
                    help_text="A listed video's frame (media_kind video): its number; else null.",
                )
                timestamp = serializers.FloatField(
                    allow_null=True, help_text="That frame's time in the video (s); else null."
                )

            algorithm = serializers.CharField(source="query.algorithm")
            value = serializers.CharField(source="query.value")
            threshold = serializers.IntegerField()
            truncated = serializers.BooleanField(
                help_text=f"More than {matching.MAX_MATCHES_PER_HASH} matched; nearest shown."
            )
            matches = HitSerializer(many=True)

        results = ResultSerializer(many=True)

    @extend_schema(
        operation_id="hashes_match",
        tags=["match"],
        request=InputSerializer,
        responses=OutputSerializer,
        description=(
            f"Up to {matching.MAX_MATCH_BATCH} hashes; for each, the active hashes within the "
            "algorithm's threshold (or your stricter one), nearest first, in request order."
        ),
    )
    def post(self, request: Request) -> Response:
        batch_size_check(request, key="hashes", limit=matching.MAX_MATCH_BATCH)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        results = matching.hashes_match(
            platform=request_platform(request),
            queries=[
                matching.MatchQuery(
                    algorithm=q["algorithm"],
                    value=q["value"],
                    variants=tuple(q.get("variants", ())),
                )
                for q in data["hashes"]
            ],
            thresholds=data.get("thresholds"),
        )
        return Response(self.OutputSerializer({"results": results}).data)
