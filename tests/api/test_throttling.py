"""Per-key throttling: a 429 with a stable code, counted per key, not per platform."""

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from portal.platforms import services
from tests.support.platforms import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_per_minute(monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "feed", "2/min")
    cache.clear()
    yield
    cache.clear()


def test_each_key_has_its_own_budget(acme, two_per_minute):
    feed = reverse("v1:hash-feed")
    assert [acme.client.get(feed).status_code for _ in range(2)] == [200, 200]
    body = assert_error(acme.client.get(feed), 429, "throttled")
    assert body["details"]["retry_after_seconds"] >= 1
    # A second key of the same platform (e.g. another service) is not starved.
    rotated = services.api_key_issue(platform=acme.platform, label="batch job")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {rotated.raw}")
    assert client.get(feed).status_code == 200
