"""Keys: missing, malformed, unknown, revoked, wrong kind, wrong scope — and last use."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from portal.platforms import services
from portal.platforms.models import ApiKey
from tests.support.platforms import assert_error, platform_client

pytestmark = pytest.mark.django_db

ME = "v1:platform-me"


def test_a_valid_key_identifies_its_platform_and_records_last_use(acme):
    response = acme.client.get(reverse(ME))
    assert response.status_code == 200
    body = response.json()
    assert body["platform"] == "Acme"
    assert acme.key.startswith(f"tb_{body['key_prefix']}_")
    assert ApiKey.objects.get(prefix=body["key_prefix"]).last_used_at is not None


def test_no_key_is_401_with_a_bearer_challenge():
    response = APIClient().get(reverse(ME))
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer tb_000000000000_nope",
        "Bearer not-a-key",
        "Bearer ",
        "Bearer tb_a_b extra",
    ],
)
def test_an_invalid_key_is_401(acme, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get(reverse(ME)), 401, "invalid_api_key")


def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(acme):
    prefix = acme.key.split("_")[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer tb_{prefix}_{'x' * 43}")
    assert_error(client.get(reverse(ME)), 401, "invalid_api_key")


def test_another_scheme_counts_as_no_key(acme):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {acme.key}")
    assert_error(client.get(reverse(ME)), 401, "not_authenticated")


def test_a_revoked_key_is_refused_while_a_rotated_one_works(acme):
    new = services.api_key_issue(platform=acme.platform, label="rotation")
    services.api_key_revoke(api_key=ApiKey.objects.get(prefix=acme.key.split("_")[1]))
    assert_error(acme.client.get(reverse(ME)), 401, "invalid_api_key")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {new.raw}")
    assert client.get(reverse(ME)).status_code == 200


def test_stopncii_keys_are_not_native_keys(db):
    created = services.platform_create(name="Exchange only")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.stopncii_function_key.raw}")
    assert_error(client.get(reverse(ME)), 401, "invalid_api_key")


def test_a_deactivated_platform_is_locked_out(acme):
    acme.platform.is_active = False
    acme.platform.save()
    assert_error(acme.client.get(reverse(ME)), 401, "invalid_api_key")


def test_a_key_without_the_scope_gets_403(db):
    limited = platform_client("Match only", scopes=["match"])
    assert limited.client.get(reverse(ME)).status_code == 200  # any key may ask who it is
    assert_error(limited.client.get(reverse("v1:hash-feed")), 403, "insufficient_scope")


def test_unknown_method_is_a_json_405(acme):
    assert_error(acme.client.delete(reverse(ME)), 405, "method_not_allowed")


def test_the_schema_and_docs_are_public():
    client = APIClient()
    assert client.get(reverse("api-schema")).status_code == 200
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
