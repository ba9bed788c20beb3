"""Fixtures for the platform API tests: platforms with real keys, clients that send them."""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from portal.platforms import services
from portal.platforms.models import Platform


@dataclass
class PlatformClient:
    platform: Platform
    key: str
    client: APIClient


def platform_client(name: str, *, scopes: list[str] | None = None) -> PlatformClient:
    """A registered platform and an APIClient sending its native key."""
    created = services.platform_create(name=name)
    key = created.api_key.raw
    if scopes is not None:
        key = services.api_key_issue(platform=created.platform, scopes=scopes).raw
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return PlatformClient(platform=created.platform, key=key, client=client)


@pytest.fixture
def acme(db) -> PlatformClient:
    return platform_client("Acme")


@pytest.fixture
def other(db) -> PlatformClient:
    return platform_client("Other")


def assert_error(response, status: int, code: str) -> dict:
    """The response is our JSON error with this status and stable code."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters are keyed by key id, and rolled-back ids are reused by the next test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_match_indexes():
    """Each test's database is rolled back: the in-process match indexes must be too."""
    from portal.platforms.matching import match_indexes_reset

    match_indexes_reset()
    yield
    match_indexes_reset()
