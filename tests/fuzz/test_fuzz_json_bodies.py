"""Fuzz the JSON body of every endpoint that reads one, and the webhook URL check.

Bodies are arbitrary JSON (deep, wide, huge numbers, odd strings), bodies shaped
like each endpoint's own with wrong values, and bytes that aren't JSON at all;
each is sent as a real request through Django's test client with valid
credentials. No input may give a 5xx or run past HANG_SECONDS; API errors are
JSON with a `code`.

Webhook URLs are fuzzed too (percent-encoding, IP literal spellings, IPv6
forms): an accepted URL whose host, read the way any HTTP client would read it
(percent-decoded, numeric forms), is not a public address counts as a bypass.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from urllib.parse import unquote, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from portal.platforms import services as platforms
from portal.platforms.models import WebhookEndpoint
from portal.platforms.services import SCOPE_STOPNCII
from portal.platforms.stopncii import SCOPE_STOPNCII_SUBMIT
from tests.fuzz.support import record_status, tally, time_limit
from tests.support.factories import SubmittedItemFactory

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)

_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=80)
    | st.sampled_from(["pdq", "md5", "sha256", "ImagePDQ", "blocked", "0" * 64, "f" * 32, ""])
)
JSON = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)

# For each endpoint, its own keys, so values reach the validators behind the parser.
SHAPED_KEYS = {
    "v1:hash-match": ["hashes", "algorithm", "value", "variants", "threshold"],
    "v1:video-match": ["videos", "md5", "vpdq", "thresholds", "frame", "pdq", "quality"],
    "v1:hash-feedback": ["feedback", "seq", "value", "algorithm", "outcome"],
    "v1:feed-acknowledge": ["cursor", "position"],
    "v1:webhook-list": ["url"],
    "/api/stopncii/v1/SubmitFeedback": ["feedbacks", "count", "hashValue", "signalType"],
    "/api/stopncii/v1/SubmitHashes": ["hashRecords", "count", "hashValue", "signalType"],
    "web:submit_hashes": ["items", "organisation", "recovery_code"],
    "web:status_hashes": ["items"],
}


def _shaped(keys: list[str]):
    return st.dictionaries(st.sampled_from(keys), JSON, max_size=len(keys)) | st.fixed_dictionaries(
        {keys[0]: st.lists(st.dictionaries(st.sampled_from(keys), _leaves, max_size=4), max_size=5)}
    )


BODIES = st.one_of(
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.sampled_from([b"", b"[" * 5000, b'{"a":' * 3000, b"1e999999", b'"\\ud800"', b"\xff\xfe"]),
)


@pytest.fixture
def native(db, offline_dns) -> APIClient:
    created = platforms.platform_create(name="Fuzz")
    key = platforms.api_key_issue(
        platform=created.platform,
        scopes=["feed:read", "match", "feedback:write", "webhooks:manage"],
    ).raw
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def stopncii(db) -> APIClient:
    created = platforms.platform_create(name="FuzzPartner")
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


@pytest.fixture
def victim(db) -> Client:
    """A browser that answered the questions and has a case open (for both JSON pages)."""
    from portal.cases import services as cases

    client = Client()
    client.post(reverse("web:start"), {"age": "adult", "subject": "synthetic", "consent": "on"})
    created = cases.case_create(items=SubmittedItemFactory.build_batch(1))
    client.post(reverse("web:status_login"), {"number": created.case.number, "pin": created.pin})
    return client


def _send(client, target: str, body: bytes, *, api: bool) -> None:
    path = target if target.startswith("/") else reverse(target)
    with time_limit(f"json: {target}"):
        response = client.post(path, body, content_type="application/json")
    record_status(f"json: {target}", response.status_code)
    assert response.status_code < 500, (target, body[:200], response.content[:300])
    if api and response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json")
        assert isinstance(response.json().get("code"), str)


NATIVE = [
    "v1:hash-match",
    "v1:video-match",
    "v1:hash-feedback",
    "v1:feed-acknowledge",
    "v1:webhook-list",
]
PARTNER = ["/api/stopncii/v1/SubmitFeedback", "/api/stopncii/v1/SubmitHashes"]
PAGES = ["web:submit_hashes", "web:status_hashes"]


@pytest.mark.parametrize("target", NATIVE)
@FUZZ
@given(data=st.data())
def test_native_api_bodies(native, target, data):
    body = data.draw(BODIES | _shaped(SHAPED_KEYS[target]).map(lambda v: json.dumps(v).encode()))
    _send(native, target, body, api=True)


@pytest.mark.parametrize("target", PARTNER)
@FUZZ
@given(data=st.data())
def test_stopncii_api_bodies(stopncii, target, data):
    body = data.draw(BODIES | _shaped(SHAPED_KEYS[target]).map(lambda v: json.dumps(v).encode()))
    _send(stopncii, target, body, api=True)


@pytest.mark.parametrize("target", PAGES)
@FUZZ
@given(data=st.data())
def test_portal_json_bodies(victim, target, data, settings):
    settings.TAKEBACK_CASE_CREATION_MAX_PER_CLIENT = 10**6
    body = data.draw(BODIES | _shaped(SHAPED_KEYS[target]).map(lambda v: json.dumps(v).encode()))
    _send(victim, target, body, api=False)


_HOST_PARTS = st.sampled_from(
    [
        "127.0.0.1",
        "%31%32%37.0.0.1",
        "localhost",
        "%6c%6f%63%61%6c%68%6f%73%74",
        "0x7f.1",
        "2130706433",
        "017700000001",
        "127.1",
        "0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[64:ff9b::a9fe:a9fe]",
        "[2002:a9fe:a9fe::]",
        "[fe80::1%25eth0]",
        "169.254.169.254",
        "224.0.0.1",
        "10.0.0.1",
        "hooks.example.org",
        "hooks.example.org.",
        "HOOKS.EXAMPLE.ORG",
        "xn--nxasmq6b.example",
        "a.b.c.d.e",
        "[::]",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "100.64.0.1",
        "192.0.2.1",
    ]
)


@st.composite
def webhook_urls(draw) -> str:
    scheme = draw(st.sampled_from(["https", "http", "HTTPS", "ftp"]))
    host = draw(_HOST_PARTS | st.text(alphabet="abc.%0123456789:[]@x", min_size=1, max_size=20))
    port = draw(st.sampled_from(["", ":443", ":0", ":8443", ":99999", ":%34%34%33"]))
    userinfo = draw(st.sampled_from(["", "user@", "a:b@", "%40@"]))
    path = draw(st.sampled_from(["/h", "/", "", "/a b", "/%2e%2e/", "?x=1", "#frag"]))
    return f"{scheme}://{userinfo}{host}{port}{path}"


def _as_any_client_reads_it(url: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses a lenient client could connect to for `url` (decoded, numeric forms)."""
    host = unquote(urlsplit(url).hostname or "").rstrip(".")
    try:
        return [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        pass
    try:  # inet_aton spellings (0x7f.1, 2130706433, 127.1)
        return [ipaddress.ip_address(socket.inet_aton(host))]
    except OSError:
        return []


@FUZZ
@given(url=webhook_urls())
def test_webhook_urls_cannot_reach_internal_addresses(native, url):
    WebhookEndpoint.objects.all().delete()
    with time_limit("webhook urls"):
        response = native.post(reverse("v1:webhook-list"), {"url": url}, format="json")
    record_status("webhook urls", response.status_code)
    assert response.status_code < 500
    if response.status_code == 201:
        for address in _as_any_client_reads_it(url):
            if not address.is_global or address.is_multicast:
                tally["webhook urls"]["bypasses"] += 1
                raise AssertionError(f"accepted {url!r}, which reaches {address}")
