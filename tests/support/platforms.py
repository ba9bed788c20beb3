"""Platforms with real keys, API clients that send them, and the API's error shape."""

from dataclasses import dataclass

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


def assert_error(response, status: int, code: str) -> dict:
    """The response is our JSON error with this status and stable code."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body
