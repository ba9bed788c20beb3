"""Who am I: the calling platform's key and progress through the feed."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import ANY_SCOPE, request_platform
from portal.cases.positions import feed_head
from portal.platforms.models import ApiKey


class PlatformMeApi(APIView):
    required_scope = ANY_SCOPE
    throttle_scope = "feed"

    class OutputSerializer(serializers.Serializer):
        platform = serializers.CharField()
        key_prefix = serializers.CharField()
        scopes = serializers.ListField(child=serializers.CharField())
        feed_position = serializers.IntegerField(help_text="The newest feed position.")
        fetched_seq = serializers.IntegerField(help_text="Highest position sent to you.")
        applied_seq = serializers.IntegerField(help_text="Position you acknowledged applying.")

    @extend_schema(operation_id="platform_me", responses=OutputSerializer, tags=["platform"])
    def get(self, request: Request) -> Response:
        platform = request_platform(request)
        api_key = request.auth
        assert isinstance(api_key, ApiKey)  # IsPlatform checked it, as request_platform does
        data = {
            "platform": platform.name,
            "key_prefix": api_key.prefix,
            "scopes": api_key.scopes,
            "feed_position": feed_head(),
            "fetched_seq": platform.fetched_seq,
            "applied_seq": platform.applied_seq,
        }
        return Response(self.OutputSerializer(data).data)
