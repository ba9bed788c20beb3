"""/api/v1/webhooks: registration contract, signing, dispatch into deliveries."""

import hashlib
import hmac
import json

import pytest
from django.urls import reverse

from portal.cases import services as case_services
from portal.platforms import tasks, webhooks
from portal.platforms.models import WebhookDelivery, WebhookEndpoint
from tests.support.factories import case_with_items
from tests.support.platforms import assert_error, platform_client

pytestmark = pytest.mark.django_db

LIST = reverse("v1:webhook-list")


def delete_url(pk: int) -> str:
    return reverse("v1:webhook-delete", args=[pk])


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (the README's snippet): recompute and compare in constant time."""
    timestamp = headers["Takeback-Webhook-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(headers["Takeback-Webhook-Signature"], "v1=" + expected.hexdigest())


def test_register_list_and_delete(acme):
    response = acme.client.post(LIST, {"url": "https://hooks.example.org/takeback"}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["is_active"]
    listed = acme.client.get(LIST).json()["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0] and created["secret"] not in str(listed)
    assert acme.client.delete(delete_url(created["id"])).status_code == 204
    assert acme.client.get(LIST).json()["webhooks"] == []
    assert_error(acme.client.delete(delete_url(created["id"])), 404, "not_found")


def test_platforms_cannot_see_or_delete_each_others_webhooks(acme, other):
    created = acme.client.post(LIST, {"url": "https://a.example.org/h"}, format="json").json()
    assert other.client.get(LIST).json()["webhooks"] == []
    assert_error(other.client.delete(delete_url(created["id"])), 404, "not_found")
    assert WebhookEndpoint.objects.get(pk=created["id"]).is_active


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.org/h",
        "http://127.0.0.1:8000/h",
        "ftp://example.org/h",
        "https://user:pw@example.org/h",
        "https:///nohost",
        "https://example.org:99999/h",
        "javascript:alert(1)",
        "not a url",
        "https://example.org/" + "a" * 490,
    ],
)
def test_only_https_urls_are_accepted(acme, url):
    response = acme.client.post(LIST, {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in {"bad_webhook_url", "validation_error"}
    assert not WebhookEndpoint.objects.exists()


def test_plain_http_to_loopback_only_when_the_setting_allows(acme, settings):
    settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK = True
    ok = acme.client.post(LIST, {"url": "http://127.0.0.1:9/h"}, format="json")
    assert ok.status_code == 201
    elsewhere = acme.client.post(LIST, {"url": "http://10.0.0.1/h"}, format="json")
    assert_error(elsewhere, 400, "bad_webhook_url")


def test_a_platform_has_at_most_five_webhooks(acme):
    for n in range(5):
        url = f"https://example.org/{n}"
        assert acme.client.post(LIST, {"url": url}, format="json").status_code == 201
    sixth = acme.client.post(LIST, {"url": "https://example.org/6"}, format="json")
    assert_error(sixth, 400, "too_many_webhooks")


@pytest.mark.parametrize("payload", [{}, {"url": ""}, {"url": 5}, {"address": "https://x.org"}])
def test_bad_registration_bodies_are_400(acme, payload):
    response = acme.client.post(LIST, payload, format="json")
    assert response.status_code == 400 and response.json()["code"] in {
        "validation_error",
        "bad_webhook_url",
    }


def test_webhooks_need_their_scope(db):
    reader = platform_client("Reader", scopes=["feed:read"])
    assert_error(reader.client.get(LIST), 403, "insufficient_scope")
    assert_error(
        reader.client.post(LIST, {"url": "https://x.org/h"}, format="json"),
        403,
        "insufficient_scope",
    )


def test_delete_of_a_huge_id_is_404(acme):
    assert_error(acme.client.delete(delete_url(2**70)), 404, "not_found")


def test_dispatch_cuts_new_changes_into_batches_from_registration_on(
    acme, settings, django_capture_on_commit_callbacks
):
    settings.TAKEBACK_WEBHOOK_BATCH_SIZE = 3
    before = case_with_items(1).case  # before registration: not pushed
    endpoint = webhooks.webhook_create(platform=acme.platform, url="https://example.org/h").endpoint
    after = case_with_items(2).case
    case_services.case_withdraw(case=before)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = tasks.webhooks_dispatch_task()
    deliveries = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("first_seq"))
    # One send queued per delivery, once the dispatch has committed.
    assert len(deliveries) == created == len(callbacks) > 1
    assert all(len(d.payload["entries"]) <= 3 for d in deliveries)
    entries = [e for d in deliveries for e in d.payload["entries"]]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    values = {(e["op"], e["value"]) for e in entries}
    assert {("add", h.value) for h in after.hashes.all()} <= values
    assert {("remove", h.value) for h in before.hashes.all()} <= values
    assert not {("add", h.value) for h in before.hashes.all()} & values
    assert before.number not in json.dumps([d.payload for d in deliveries])
    # Nothing new: a second dispatch creates nothing.
    assert webhooks.webhooks_dispatch() == []


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"entries":[]}'
    headers = {
        "Takeback-Webhook-Timestamp": "1700000000",
        "Takeback-Webhook-Signature": webhooks.webhook_sign(
            secret="whsec_x", timestamp=1700000000, body=body
        ),
    }
    assert verify("whsec_x", headers, body)
    assert not verify("whsec_y", headers, body)
    assert not verify("whsec_x", headers, body + b" ")


def test_backoff_doubles_up_to_the_cap(settings):
    settings.TAKEBACK_WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.TAKEBACK_WEBHOOK_RETRY_MAX_SECONDS = 3600
    delays = [webhooks.retry_delay(attempts=n) for n in range(1, 10)]
    assert delays[:4] == [30, 60, 120, 240] and delays[-1] == 3600


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/h",
        "https://192.168.0.10/h",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata service
        "https://127.0.0.1/h",
        "https://localhost/h",
        "https://[::1]/h",
        "https://[fd00::1]/h",
    ],
)
def test_endpoints_on_non_public_addresses_are_refused(acme, url):
    response = acme.client.post(LIST, {"url": url}, format="json")
    assert_error(response, 400, "bad_webhook_url")
    assert not WebhookEndpoint.objects.exists()


class _LocalServer:
    """A loopback HTTP server answering every POST with `status` (and a Location)."""

    def __init__(self, status: int, location: str = "") -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        self.hits = 0
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server_self.hits += 1
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.end_headers()

            def do_GET(self) -> None:  # where urllib would take a followed 302
                server_self.hits += 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _one_delivery(platform, url: str) -> str:
    webhooks.webhook_create(platform=platform, url=url)
    case_with_items(1)
    (delivery_id,) = webhooks.webhooks_dispatch()
    return delivery_id


def test_a_delivery_is_not_sent_once_the_address_is_no_longer_allowed(acme, settings):
    settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK = True
    receiver = _LocalServer(200)
    try:
        delivery_id = _one_delivery(acme.platform, receiver.url)
        # Registered while allowed; by the time it is sent the address is not (as
        # when a public name starts resolving to an internal address).
        settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK = False
        outcome = webhooks.webhook_deliver(delivery_id=delivery_id)
    finally:
        receiver.close()
    assert receiver.hits == 0
    assert outcome.status == WebhookDelivery.Status.PENDING and outcome.retry_in is not None
    assert "non-public" in WebhookDelivery.objects.get(pk=delivery_id).last_error


def test_redirects_are_not_followed(acme, settings):
    settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK = True
    target = _LocalServer(200)
    redirector = _LocalServer(302, location=target.url)
    try:
        delivery_id = _one_delivery(acme.platform, redirector.url)
        outcome = webhooks.webhook_deliver(delivery_id=delivery_id)
    finally:
        redirector.close()
        target.close()
    assert redirector.hits == 1 and target.hits == 0
    assert outcome.status_code == 302 and outcome.status == WebhookDelivery.Status.PENDING
