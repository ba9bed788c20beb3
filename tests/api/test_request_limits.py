"""Issue 10, finding 6 (API side): bodies are bounded before parsing, and every error is JSON.

Deeply nested JSON (100,000 levels) used to end in RecursionError and a bare
HTML 500 on 8 endpoints; a 50 MB body, an unknown URL under /api/ and every
5xx were bare HTML too. Now a body's size and nesting depth are checked before
any parser sees it (portal/web/middleware.py, RequestLimitsMiddleware, and the
DRF parser in api/parsers.py), and every API response with an error status is
`{"code", "message", "details"}`.
"""

import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from portal.platforms import services as platforms
from portal.platforms.services import SCOPE_STOPNCII
from portal.platforms.stopncii import SCOPE_STOPNCII_SUBMIT
from tests.support.platforms import assert_error, platform_client

pytestmark = pytest.mark.django_db

NESTED = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS = b'{"a":' * 50_000 + b"1" + b"}" * 50_000

V1_BODY_ENDPOINTS = ["v1:hash-match", "v1:hash-feedback", "v1:feed-acknowledge", "v1:webhook-list"]
STOPNCII_BODY_ENDPOINTS = [
    "/api/stopncii/v1/FetchHashes",
    "/api/stopncii/v1/SubmitFeedback",
    "/api/stopncii/v1/SubmitHashes",
]


@pytest.fixture
def native() -> APIClient:
    scopes = ["feed:read", "match", "feedback:write", "webhooks:manage"]
    return platform_client("Acme", scopes=scopes).client


@pytest.fixture
def stopncii() -> APIClient:
    created = platforms.platform_create(name="Partner")
    fn = platforms.api_key_issue(
        platform=created.platform,
        kind="stopncii_fn",
        scopes=[SCOPE_STOPNCII, SCOPE_STOPNCII_SUBMIT],
    ).raw
    client = APIClient()
    client.credentials(
        HTTP_X_FUNCTIONS_KEY=fn,
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=created.stopncii_subscription_key.raw,
    )
    return client


def _refused(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] in {"too_deep", "too_large", "bad_json", "parse_error"}, body


@pytest.mark.parametrize("body", [NESTED, NESTED_OBJECTS], ids=["arrays", "objects"])
@pytest.mark.parametrize("name", V1_BODY_ENDPOINTS)
def test_deeply_nested_json_is_refused_before_parsing_on_the_native_api(native, name, body):
    _refused(native.post(reverse(name), body, content_type="application/json"))


@pytest.mark.parametrize("path", STOPNCII_BODY_ENDPOINTS)
def test_deeply_nested_json_is_refused_before_parsing_on_the_stopncii_api(stopncii, path):
    _refused(stopncii.post(path, NESTED, content_type="application/json"))


@pytest.mark.parametrize("name", ["web:submit_hashes", "web:status_hashes"])
def test_deeply_nested_json_is_refused_on_the_portal_json_endpoints(client, name):
    client.post(reverse("web:start"), {"age": "adult", "subject": "synthetic", "consent": "on"})
    response = client.post(reverse(name), NESTED, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")


def test_a_50_mb_body_is_refused_as_json_without_reading_it(native):
    response = native.post(
        reverse("v1:hash-match"), b" " * (50 * 1024 * 1024), content_type="application/json"
    )
    assert_error(response, 413, "too_large")


def test_an_unknown_api_url_is_a_json_404(native):
    assert_error(native.delete("/api/v1/webhooks/-1"), 404, "not_found")
    assert_error(native.get("/api/v1/no-such-thing"), 404, "not_found")


def test_a_server_error_in_the_api_is_json(monkeypatch):
    from api.v1 import platform as platform_views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(platform_views.PlatformMeApi, "get", broken)
    keyed = platform_client("Broken")
    client = Client(raise_request_exception=False)
    response = client.get(reverse("v1:platform-me"), HTTP_AUTHORIZATION=f"Bearer {keyed.key}")
    assert_error(response, 500, "server_error")
    assert "boom" not in response.content.decode()


def test_ordinary_bodies_still_parse(native):
    response = native.post(
        reverse("v1:hash-match"), json.dumps({"hashes": []}), content_type="application/json"
    )
    assert response.status_code in {200, 400}
    assert response.json()["code"] != "too_deep" if response.status_code == 400 else True
