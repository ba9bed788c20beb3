"""Webhook endpoints: register (secret shown once), list, delete."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import request_platform
from portal.platforms import webhooks
from portal.platforms.models import WebhookDelivery, WebhookEndpoint
from portal.platforms.services import SCOPE_WEBHOOKS_MANAGE


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    enqueued_seq = serializers.IntegerField(help_text="Feed changes up to here are queued.")


class WebhookListApi(APIView):
    required_scope = SCOPE_WEBHOOKS_MANAGE
    throttle_scope = "webhooks"

    class InputSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=500, help_text="An https:// URL.")

    class CreatedSerializer(WebhookEndpointSerializer):
        secret = serializers.CharField(
            help_text="Signs every delivery (HMAC-SHA256). Shown only now: keep it."
        )

    class OutputSerializer(serializers.Serializer):
        class EndpointSerializer(WebhookEndpointSerializer):
            pending_deliveries = serializers.IntegerField()
            failed_deliveries = serializers.IntegerField()

        webhooks = EndpointSerializer(many=True)

    @extend_schema(operation_id="webhooks_list", tags=["webhooks"], responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        endpoints = WebhookEndpoint.objects.filter(
            platform=request_platform(request), is_active=True
        ).order_by("pk")
        data = [
            {
                **{f: getattr(e, f) for f in ("id", "url", "is_active", "created_at")},
                "enqueued_seq": e.enqueued_seq,
                "pending_deliveries": e.deliveries.filter(
                    status=WebhookDelivery.Status.PENDING
                ).count(),
                "failed_deliveries": e.deliveries.filter(
                    status=WebhookDelivery.Status.FAILED
                ).count(),
            }
            for e in endpoints
        ]
        return Response(self.OutputSerializer({"webhooks": data}).data)

    @extend_schema(
        operation_id="webhooks_create",
        tags=["webhooks"],
        request=InputSerializer,
        responses={201: CreatedSerializer},
        description=(
            "Register an HTTPS endpoint. New hashes and removals from now on are POSTed to "
            "it in batches, signed: see the README's integration guide."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = webhooks.webhook_create(
            platform=request_platform(request), url=serializer.validated_data["url"]
        )
        endpoint = created.endpoint
        data = {
            "id": endpoint.pk,
            "url": endpoint.url,
            "is_active": endpoint.is_active,
            "created_at": endpoint.created_at,
            "enqueued_seq": endpoint.enqueued_seq,
            "secret": created.secret,
        }
        return Response(self.CreatedSerializer(data).data, status=201)


class WebhookDeleteApi(APIView):
    required_scope = SCOPE_WEBHOOKS_MANAGE
    throttle_scope = "webhooks"

    @extend_schema(
        operation_id="webhooks_delete",
        tags=["webhooks"],
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, webhook_id: int) -> Response:
        webhooks.webhook_delete(platform=request_platform(request), endpoint_id=webhook_id)
        return Response(status=204)
