"""Issue 10, finding 1: a webhook never runs inside, delays or fails a victim's request.

On the embedded default (no broker: Celery tasks eager) a submission used to
run the webhook dispatch and delivery inline after its commit: an endpoint that
failed made `POST /submit/hashes/` answer 500 after the case was saved (the
victim never saw the case number or PIN), and one that held the connection
made the victim wait. Deliveries now run on an in-process worker thread off
the request, and every failure is recorded on the delivery as a retry.

The endpoints here are real loopback servers; the database is the real test
database, shared with the worker thread (transactional tests).
"""

import json
import socket
import threading
import time

import pytest
from django.test import Client
from django.urls import reverse

from portal.cases.models import Case
from portal.platforms import tasks, webhooks
from portal.platforms.models import WebhookDelivery
from portal.platforms.services import platform_create
from tests.support.factories import SubmittedItemFactory

pytestmark = pytest.mark.django_db(transaction=True)

# A victim's request must not wait on webhooks at all; this leaves room for a slow CI.
REQUEST_BUDGET_SECONDS = 2.0


class _Endpoint:
    """A loopback TCP endpoint that misbehaves: holds the connection, or answers garbage."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.hits = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.open: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.hits += 1
            if self.behaviour == "garbage":
                conn.recv(65536)
                conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                conn.close()
            else:  # "hold": read the request, never answer
                self.open.append(conn)

    def close(self) -> None:
        self.stopped.set()
        for conn in self.open:
            conn.close()
        self.sock.close()


@pytest.fixture
def eager_hooks(settings):
    """The embedded default: eager tasks, loopback receivers allowed, a short timeout."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK = True
    settings.TAKEBACK_WEBHOOK_TIMEOUT_SECONDS = 3
    settings.TAKEBACK_WEBHOOK_RETRY_BASE_SECONDS = 600  # one attempt within the test
    yield
    tasks.local_worker_drain(timeout=10)


def _victim(client: Client) -> Client:
    client.post(reverse("web:start"), {"age": "adult", "subject": "synthetic", "consent": "on"})
    return client


def _submit(client: Client):
    items = [
        {"media_kind": i.media_kind, "hashes": i.hashes, "pdq_quality": i.pdq_quality}
        for i in SubmittedItemFactory.build_batch(1)
    ]
    started = time.monotonic()
    response = client.post(
        reverse("web:submit_hashes"), json.dumps({"items": items}), content_type="application/json"
    )
    return response, time.monotonic() - started


def _wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("behaviour", ["hold", "garbage"])
def test_a_failing_webhook_neither_delays_nor_fails_a_submission(eager_hooks, behaviour):
    endpoint = _Endpoint(behaviour)
    try:
        platform = platform_create(name="Hooked").platform
        webhooks.webhook_create(platform=platform, url=endpoint.url)
        response, elapsed = _submit(_victim(Client()))
        assert response.status_code == 201, response.content[:300]
        assert response.json()["pin"] and Case.objects.count() == 1
        assert elapsed < REQUEST_BUDGET_SECONDS, elapsed
        # The delivery is attempted off the request, and its failure is a recorded retry.
        _wait_for(lambda: WebhookDelivery.objects.filter(attempts__gte=1).exists())
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
        assert delivery.last_error and endpoint.hits >= 1
    finally:
        endpoint.close()


def test_withdrawal_is_not_delayed_by_a_webhook_that_holds_the_connection(eager_hooks):
    endpoint = _Endpoint("hold")
    try:
        platform = platform_create(name="Hooked").platform
        client = _victim(Client())
        response, _ = _submit(client)  # before the webhook exists: nothing to send
        created = response.json()
        webhooks.webhook_create(platform=platform, url=endpoint.url)
        login = client.post(
            reverse("web:status_login"), {"number": created["case_number"], "pin": created["pin"]}
        )
        assert login.status_code == 302
        started = time.monotonic()
        withdrawn = client.post(reverse("web:case_withdraw"))
        elapsed = time.monotonic() - started
        assert withdrawn.status_code == 302 and elapsed < REQUEST_BUDGET_SECONDS, elapsed
        assert Case.objects.get().status == Case.Status.WITHDRAWN
        _wait_for(lambda: WebhookDelivery.objects.filter(attempts__gte=1).exists())
    finally:
        endpoint.close()


def test_an_unexpected_error_in_a_delivery_is_recorded_as_a_retry(eager_hooks):
    endpoint = _Endpoint("garbage")
    try:
        platform = platform_create(name="Hooked").platform
        webhooks.webhook_create(platform=platform, url=endpoint.url)
        _, _ = _submit(_victim(Client()))
        tasks.local_worker_drain(timeout=10)
        (delivery_id,) = WebhookDelivery.objects.values_list("pk", flat=True)
        # A direct attempt (as the Celery task makes) records the bad answer too.
        outcome = webhooks.webhook_deliver(delivery_id=str(delivery_id))
        assert outcome.retry_in is not None and outcome.status == "pending"
        assert WebhookDelivery.objects.get().attempts == 2
    finally:
        endpoint.close()


def test_with_a_broker_that_is_down_a_submission_is_neither_delayed_nor_failed(settings):
    """Production shape (tasks through a broker): publishing happens off the request too."""
    from portal.celery import app

    settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK = True
    with socket.create_server(("127.0.0.1", 0)) as closed:
        dead = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=dead, task_always_eager=False)
    try:
        platform = platform_create(name="Hooked").platform
        webhooks.webhook_create(platform=platform, url="http://127.0.0.1:9/hook")
        response, elapsed = _submit(_victim(Client()))
        assert response.status_code == 201 and elapsed < REQUEST_BUDGET_SECONDS, elapsed
    finally:
        try:
            tasks.local_worker_drain(timeout=30)
        finally:
            app.conf.update(saved)
            # The producer pool holds connections to the broker it was made for: drop it.
            app.pool.force_close_all()
            app._pool = None
            app.amqp._producer_pool = None
