"""Webhook delivery for real: a Celery worker (through Redis, on PostgreSQL) POSTs to a
local receiver that fails twice before accepting; retries carry the same delivery id,
every attempt is correctly signed, and a withdrawal arrives as a removal.
"""

import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.cases import services as case_services
from portal.platforms import webhooks
from portal.platforms.feed import feed_head, feed_served_record
from portal.platforms.models import Platform, WebhookDelivery
from portal.platforms.services import platform_create
from tests.support.factories import case_with_items
from tests.support.services import free_port

# The worker process is started (once per session) with the environment of the
# test process: a 1 s backoff base keeps the retries quick. Set at collection,
# before any fixture starts the worker; the test process's settings are loaded already.
os.environ.setdefault("TAKEBACK_WEBHOOK_RETRY_BASE_SECONDS", "1")
# The receiver is on loopback, which deliveries refuse unless this is set.
os.environ.setdefault("TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK", "true")


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 500 to its first `failures` requests."""

    def __init__(self, failures: int) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.times: list[float] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                receiver.times.append(time.monotonic())
                failing = len(receiver.requests) <= receiver.failures
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/takeback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["Takeback-Webhook-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(headers["Takeback-Webhook-Signature"], f"v1={expected.hexdigest()}")


def wait_for(condition, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker")
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_worker_delivers_signed_batches_and_retries_until_accepted(celery_worker_process, settings):
    settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK = True  # registration in this process only
    platform = platform_create(name="Hooked").platform
    with Receiver(failures=2) as receiver:
        # The platform bootstraps (snapshot up to the head), then registers.
        feed_served_record(platform_id=platform.pk, position=feed_head())
        created = webhooks.webhook_create(platform=platform, url=receiver.url)
        # Submitting queues the push on commit by itself: no beat, no explicit call.
        case = case_with_items(1).case
        wait_for(lambda: len(receiver.requests) >= 3)
        delivery = WebhookDelivery.objects.get(endpoint=created.endpoint)
        wait_for(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered")
        delivery.refresh_from_db()
        assert delivery.attempts == 3 and delivery.last_status_code == 200

        ids = {headers["Takeback-Webhook-Id"] for headers, _ in receiver.requests}
        assert ids == {str(delivery.id)}  # the same id on every retry
        bodies = {body for _, body in receiver.requests}
        assert len(bodies) == 1  # the same bytes on every retry
        assert all(verify(created.secret, h, b) for h, b in receiver.requests)
        assert not verify("whsec_wrong", *receiver.requests[0])
        payload = json.loads(receiver.requests[0][1])
        assert payload["delivery_id"] == str(delivery.id)
        pushed = {(e["op"], e["value"]) for e in payload["entries"]}
        assert {("add", h.value) for h in case.hashes.all()} <= pushed
        assert case.number not in receiver.requests[0][1].decode()
        # Exponential backoff with a 1 s base: about 1 s, then 2 s between attempts.
        first, second, third = receiver.times[:3]
        first_gap, second_gap = second - first, third - second
        assert first_gap >= 0.9 and second_gap >= 1.8
        # The delivery continued what the platform had: it has been sent everything.
        assert Platform.objects.get(pk=platform.pk).fetched_seq == delivery.last_seq

        case_services.case_withdraw(case=case)
        wait_for(lambda: len(receiver.requests) >= 4)
        removal = json.loads(receiver.requests[3][1])
        assert {(e["op"], e["value"]) for e in removal["entries"]} == {
            ("remove", h.value) for h in case.hashes.all()
        }
        assert receiver.requests[3][0]["Takeback-Webhook-Id"] != str(delivery.id)
