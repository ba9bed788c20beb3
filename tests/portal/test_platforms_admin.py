"""Operators see which platforms lag behind removals."""

import pytest
from django.urls import reverse

from portal.cases import services as case_services
from portal.platforms import selectors
from portal.platforms.models import Platform
from portal.platforms.services import platform_create
from tests.support.factories import case_with_items
from tests.support.staff import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "op@example.org", "pw-123-xyz")
    verified_login(client, user)  # operators sign in with a second factor
    return client


def test_lagging_platforms_are_listed_with_their_pending_removals(operator_client):
    current = platform_create(name="Current").platform
    lagging = platform_create(name="Lagging").platform
    case = case_with_items(1).case
    case_services.case_withdraw(case=case)
    last = selectors.last_removal_seq()
    Platform.objects.filter(pk=current.pk).update(fetched_seq=last, applied_seq=last)
    Platform.objects.filter(pk=lagging.pk).update(fetched_seq=last)

    assert list(selectors.platforms_lagging()) == [Platform.objects.get(pk=lagging.pk)]
    assert selectors.platform_removals_pending(platform=Platform.objects.get(pk=lagging.pk)) == 4

    url = reverse("admin:platforms_platform_changelist")
    page = operator_client.get(url, {"removals": "lagging"}).content.decode()
    assert ">Lagging</a>" in page and ">Current</a>" not in page
    page = operator_client.get(url, {"removals": "current"}).content.decode()
    assert ">Current</a>" in page and ">Lagging</a>" not in page


def test_webhook_pages_never_show_the_signing_secret(operator_client, example_org_dns):
    from portal.platforms import webhooks
    from portal.platforms.models import WebhookDelivery

    platform = platform_create(name="Hooked").platform
    created = webhooks.webhook_create(platform=platform, url="https://example.org/h")
    delivery = WebhookDelivery.objects.create(
        endpoint=created.endpoint, first_seq=1, last_seq=1, payload={}
    )
    pages = [
        reverse("admin:platforms_webhookendpoint_changelist"),
        reverse("admin:platforms_webhookendpoint_change", args=[created.endpoint.pk]),
        reverse("admin:platforms_webhookdelivery_change", args=[delivery.pk]),
    ]
    for page in pages:
        response = operator_client.get(page)
        assert response.status_code == 200, page
        assert created.secret not in response.content.decode()
