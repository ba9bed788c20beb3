"""Every way the list leaves us is in the audit log: StopNCII pages and webhook pushes too."""

import pytest
from rest_framework.test import APIClient

from portal.cases.positions import feed_head
from portal.platforms import services, webhooks
from portal.platforms.models import WebhookDelivery
from portal.trust.models import AuditEvent
from tests.support.factories import case_with_items

pytestmark = pytest.mark.django_db


def test_stopncii_fetches_are_audited_with_their_range():
    created = services.platform_create(name="Acme")
    case_with_items(1)
    client = APIClient()
    client.credentials(
        HTTP_X_FUNCTIONS_KEY=created.stopncii_function_key.raw,
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=created.stopncii_subscription_key.raw,
    )
    response = client.get("/api/stopncii/v1/FetchHashes", {"startTimestamp": 0})
    assert response.status_code == 200 and response.json()["hashRecords"]
    event = AuditEvent.objects.filter(action="stopncii_download").latest("pk")
    assert event.actor == "Acme" and event.detail["to"] == feed_head()
    assert event.detail["records"] == len(response.json()["hashRecords"])


def test_webhook_pushes_are_audited_when_delivered(example_org_dns):
    created = services.platform_create(name="Acme")
    webhooks.webhook_create(platform=created.platform, url="https://example.org/hook")
    case_with_items(1)
    (delivery_id,) = webhooks.webhooks_dispatch()
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    # The delivery reached the platform (what webhook_deliver records on a 2xx).
    webhooks._record_sent(delivery=delivery)
    event = AuditEvent.objects.filter(action="webhook_push").latest("pk")
    assert event.actor == "Acme"
    assert (event.detail["from"], event.detail["to"]) == (delivery.first_seq, delivery.last_seq)
    assert event.detail["entries"] == len(delivery.payload["entries"])
