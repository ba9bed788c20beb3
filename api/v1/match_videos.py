"""POST /api/v1/match/videos: which listed videos and photos a platform's videos show."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import request_platform
from api.v1.match import batch_size_check
from api.v1.serializers import FeedbackCountsSerializer
from hashing.distance import MATCH_THRESHOLDS, is_valid_hex
from hashing.video import VpdqFrame
from portal.platforms import video_matching
from portal.platforms.services import SCOPE_MATCH


class FrameSerializer(serializers.Serializer):
    """One vPDQ frame as `python -m hashing clip.mp4` prints it (documentation only)."""

    frame = serializers.IntegerField(min_value=0, help_text="Frame number (0-based).")
    timestamp = serializers.FloatField(min_value=0, help_text="Seconds from the start.")
    pdq = serializers.CharField(help_text="The frame's PDQ: 64 lower-case hex digits.")
    quality = serializers.IntegerField(min_value=0, max_value=100)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@extend_schema_field(FrameSerializer(many=True))
class FramesField(serializers.Field):
    """The `vpdq` list, checked in plain Python: 7,200 nested serializers would be slow."""

    default_error_messages = {
        "not_a_list": 'Send a list of {{"frame", "timestamp", "pdq", "quality"}}.',
        "too_many_frames": "A video may have at most {limit} frame hashes.",
    }

    def to_internal_value(self, data: Any) -> tuple[VpdqFrame, ...]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        if len(data) > video_matching.MAX_QUERY_FRAMES:
            raise serializers.ValidationError(
                self.error_messages["too_many_frames"].format(
                    limit=video_matching.MAX_QUERY_FRAMES
                ),
                code="too_many_frames",
            )
        frames = []
        for n, item in enumerate(data):
            if not (
                isinstance(item, dict)
                # Ranges before float(): a 400-digit JSON integer does not fit a float.
                and _number(item.get("frame"))
                and 0 <= item["frame"] < 2**31
                and float(item["frame"]).is_integer()
                and _number(item.get("timestamp"))
                and 0 <= item["timestamp"] < 1e9
                and isinstance(item.get("pdq"), str)
                and is_valid_hex("pdq", item["pdq"])
                and _number(item.get("quality"))
                and 0 <= item["quality"] <= 100
                and float(item["quality"]).is_integer()
            ):
                raise serializers.ValidationError(
                    f"Frame {n}: frame (integer >= 0), timestamp (seconds >= 0), pdq "
                    "(64 lower-case hex digits) and quality (0-100).",
                    code="bad_frame",
                )
            frames.append(
                VpdqFrame(
                    int(item["frame"]), float(item["timestamp"]), item["pdq"], int(item["quality"])
                )
            )
        return tuple(frames)

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - input only
        return [frame.as_dict() for frame in value]


def _digest_field(algorithm: str, digits: int) -> serializers.RegexField:
    return serializers.RegexField(
        f"^[0-9a-f]{{{digits}}}$",
        required=False,
        allow_null=True,
        error_messages={"invalid": f"A {algorithm} is {digits} lower-case hex digits."},
        help_text=f"The whole file's {algorithm.upper()} (exact match).",
    )


class VideoMatchApi(APIView):
    required_scope = SCOPE_MATCH
    throttle_scope = "match"

    class InputSerializer(serializers.Serializer):
        class VideoSerializer(serializers.Serializer):
            md5 = _digest_field("md5", 32)
            sha256 = _digest_field("sha256", 64)
            vpdq = FramesField(
                required=False,
                help_text=(
                    "The video's vPDQ frames as `python -m hashing clip.mp4` prints them "
                    f"(at most {video_matching.MAX_QUERY_FRAMES}). Other keys of that record "
                    "(`path`, `media`, `duration`) are ignored."
                ),
            )

            def validate(self, attrs: dict) -> dict:
                if not (attrs.get("md5") or attrs.get("sha256") or attrs.get("vpdq")):
                    raise serializers.ValidationError(
                        "Send at least one of md5, sha256 and vpdq.", code="no_hashes"
                    )
                return attrs

        class ThresholdsSerializer(serializers.Serializer):
            pdq = serializers.IntegerField(
                min_value=0,
                max_value=MATCH_THRESHOLDS["pdq"],
                required=False,
                help_text=(
                    "Bits between two frames (or a frame and a photo) that still match; "
                    f"only stricter than {MATCH_THRESHOLDS['pdq']}."
                ),
            )
            query_match_percent = serializers.FloatField(
                min_value=0,
                max_value=100,
                required=False,
                help_text=(
                    "Share of your video's frames that must match a listed video's "
                    f"(default {video_matching.DEFAULT_QUERY_MATCH_PERCENT:g}, as vPDQ)."
                ),
            )
            compared_match_percent = serializers.FloatField(
                min_value=0,
                max_value=100,
                required=False,
                help_text=(
                    "Share of the listed video's frames that must match yours "
                    f"(default {video_matching.DEFAULT_COMPARED_MATCH_PERCENT:g}, as vPDQ)."
                ),
            )

        videos = serializers.ListField(
            child=VideoSerializer(),
            min_length=1,
            max_length=video_matching.MAX_VIDEO_MATCH_BATCH,
        )
        thresholds = ThresholdsSerializer(required=False)

    class OutputSerializer(serializers.Serializer):
        class ResultSerializer(serializers.Serializer):
            class ThresholdsSerializer(serializers.Serializer):
                pdq = serializers.IntegerField()
                query_match_percent = serializers.FloatField()
                compared_match_percent = serializers.FloatField()

            class ExactSerializer(serializers.Serializer):
                algorithm = serializers.CharField()
                value = serializers.CharField()
                seq = serializers.IntegerField()
                media_kind = serializers.CharField()
                case_id = serializers.CharField()
                item_id = serializers.CharField()
                feedback = FeedbackCountsSerializer()

            class VideoSerializer(serializers.Serializer):
                case_id = serializers.CharField()
                item_id = serializers.CharField(help_text="The listed video (its feed item).")
                match = serializers.BooleanField(help_text="Both shares reach their thresholds.")
                query_match_percent = serializers.FloatField(
                    help_text="Share of your frames within the PDQ threshold of one of its."
                )
                compared_match_percent = serializers.FloatField(
                    help_text="Share of its frames within the PDQ threshold of one of yours."
                )
                frames_matched = serializers.IntegerField()
                compared_frames_matched = serializers.IntegerField()
                compared_frames = serializers.IntegerField()
                md5 = serializers.CharField(
                    allow_null=True,
                    help_text="The listed video's MD5: name it (algorithm md5) in /feedback.",
                )
                feedback = FeedbackCountsSerializer(help_text="Reports on that MD5.")

            class PhotoSerializer(serializers.Serializer):
                algorithm = serializers.CharField()
                value = serializers.CharField(help_text="The listed photo's PDQ.")
                distance = serializers.IntegerField(help_text="From the nearest frame.")
                frame = serializers.IntegerField(help_text="The nearest frame's number.")
                timestamp = serializers.FloatField(help_text="The nearest frame's time (s).")
                frames_matched = serializers.IntegerField()
                seq = serializers.IntegerField()
                media_kind = serializers.CharField()
                case_id = serializers.CharField()
                item_id = serializers.CharField()
                feedback = FeedbackCountsSerializer()

            md5 = serializers.CharField(source="query.md5", allow_null=True)
            sha256 = serializers.CharField(source="query.sha256", allow_null=True)
            frames = serializers.IntegerField(
                help_text="Your frames compared: quality >= 50, each hash once (as vPDQ)."
            )
            thresholds = ThresholdsSerializer()
            exact = ExactSerializer(many=True, help_text="Listed hashes equal to a digest.")
            videos = VideoSerializer(
                many=True, help_text="Listed videos sharing frames with yours, matches first."
            )
            photos = PhotoSerializer(
                many=True, help_text="Listed photos shown in your frames, nearest first."
            )
            truncated = serializers.BooleanField(
                help_text=(
                    f"More than {video_matching.MAX_VIDEO_CANDIDATES} listed videos or "
                    f"{video_matching.MAX_PHOTO_MATCHES} photos were near; the rest left out."
                )
            )

        results = ResultSerializer(many=True)

    @extend_schema(
        operation_id="videos_match",
        tags=["match"],
        request=InputSerializer,
        responses=OutputSerializer,
        description=(
            f"Up to {video_matching.MAX_VIDEO_MATCH_BATCH} videos, in request order. For each: "
            "listed hashes equal to its MD5/SHA-256; listed videos compared under the vPDQ "
            "rule (a frame matches within the PDQ threshold; a video matches when the "
            "shares of your frames and of its frames reach their thresholds); listed "
            "photos seen in its frames, with the frame and its time."
        ),
    )
    def post(self, request: Request) -> Response:
        batch_size_check(request, key="videos", limit=video_matching.MAX_VIDEO_MATCH_BATCH)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        thresholds = data.get("thresholds") or {}
        limits = video_matching.video_thresholds(
            pdq=thresholds.get("pdq"),
            query=thresholds.get("query_match_percent"),
            compared=thresholds.get("compared_match_percent"),
        )
        results = video_matching.videos_match(
            platform=request_platform(request),
            queries=[
                video_matching.VideoQuery(
                    md5=v.get("md5"), sha256=v.get("sha256"), frames=v.get("vpdq") or ()
                )
                for v in data["videos"]
            ],
            thresholds=limits,
        )
        return Response(self.OutputSerializer({"results": results}).data)
