"""Issue 10, finding 2: webhook endpoints cannot reach internal addresses (SSRF), by any spelling.

The host is checked exactly as the HTTP client will use it: a name that is not
a plain DNS name (percent-encoded, trailing dot) is refused rather than
decoded later by the client; a name that doesn't resolve is refused; every
address it resolves to must be public, looking inside NAT64, IPv4-mapped,
6to4 and Teredo forms; and the connection goes to the address that was checked
(pinned), so a DNS answer that changes in between (rebinding) is never used.

Names under example.org resolve to a public address through the test resolver
(tests/conftest.py `example_org_dns`): the sandbox has no DNS.
"""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from portal.platforms import webhooks
from portal.platforms.models import WebhookDelivery, WebhookEndpoint
from tests.support.factories import case_with_items
from tests.support.platforms import assert_error

pytestmark = pytest.mark.django_db

LIST = reverse("v1:webhook-list")


@pytest.mark.parametrize(
    "url",
    [
        "https://%31%32%37.0.0.1:9443/h",  # urllib decodes it later and connects to 127.0.0.1
        "https://%6c%6f%63%61%6c%68%6f%73%74/h",  # percent-encoded localhost
        "https://hooks.example.org%2e/h",
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",  # NAT64 form of the metadata address
        "https://[64:ff9b::7f00:1]/h",  # NAT64 of 127.0.0.1
        "https://[::ffff:127.0.0.1]/h",  # IPv4-mapped loopback
        "https://[::ffff:a9fe:a9fe]/h",
        "https://[2002:7f00:1::]/h",  # 6to4 of 127.0.0.1
        "https://[2002:a9fe:a9fe::]/h",  # 6to4 of the metadata address
        "https://224.0.0.1/h",  # multicast
        "https://[ff02::1]/h",
        "https://239.255.255.250/h",
        "https://127.0.0.1./h",  # trailing-dot loopback
        "https://localhost./h",
        "https://hooks.example.org./h",
        "https://0.0.0.0/h",
        "https://255.255.255.255/h",
        "https://100.64.0.1/h",  # carrier-grade NAT
        "https://0x7f.1/h",  # inet_aton spellings of 127.0.0.1
        "https://2130706433/h",
        "https://017700000001/h",
        "https://no-such-host.invalid/h",  # doesn't resolve
        "https://unresolvable.example.net/h",
        "https://exa mple.org/h",
        "https://ex\u0430mple.org/h",  # a Cyrillic letter: not what the client would send
    ],
)
def test_internal_and_disguised_endpoints_are_refused(acme, url):
    response = acme.client.post(LIST, {"url": url}, format="json")
    assert_error(response, 400, "bad_webhook_url")
    assert not WebhookEndpoint.objects.exists()


def test_a_public_name_is_accepted(acme):
    response = acme.client.post(LIST, {"url": "https://hooks.example.org/h?x=1"}, format="json")
    assert response.status_code == 201, response.content


class _Receiver:
    def __init__(self) -> None:
        self.hits = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.hits += 1
                receiver.host = self.headers["Host"]
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_connection_goes_to_the_checked_address_so_rebinding_fails(acme, settings, monkeypatch):
    """The name answers a allowed address to the check, then an internal one: it must not matter."""
    settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK = True  # the "allowed" address is our receiver
    settings.TAKEBACK_WEBHOOK_TIMEOUT_SECONDS = 2
    receiver = _Receiver()
    answers = ["127.0.0.1", "10.255.255.1"]  # first the allowed one, then the internal one
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example.net":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = answers[min(len(lookups), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        url = f"http://rebind.example.net:{receiver.port}/hook"
        WebhookEndpoint.objects.create(
            platform=acme.platform, url=url, secret=webhooks.secret_seal("whsec_x")
        )
        case_with_items(1)
        (delivery_id,) = webhooks.webhooks_dispatch()
        outcome = webhooks.webhook_deliver(delivery_id=delivery_id)
    finally:
        receiver.close()
    assert lookups == ["rebind.example.net"]  # resolved once, for the check
    assert receiver.hits == 1 and outcome.status == WebhookDelivery.Status.DELIVERED
    assert receiver.host == f"rebind.example.net:{receiver.port}"  # the name, not the address


def test_an_endpoint_whose_name_stops_resolving_is_a_recorded_retry(acme, monkeypatch):
    endpoint = webhooks.webhook_create(platform=acme.platform, url="https://gone.example.org/h")
    case_with_items(1)
    (delivery_id,) = webhooks.webhooks_dispatch()

    def nxdomain(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(webhooks, "_resolve", nxdomain)
    outcome = webhooks.webhook_deliver(delivery_id=delivery_id)
    assert outcome.retry_in is not None
    assert "resolve" in WebhookDelivery.objects.get(pk=delivery_id).last_error
    assert endpoint.endpoint.is_active


def test_a_name_that_takes_too_long_to_resolve_is_refused_in_time(acme, settings, monkeypatch):
    """Found by the outside rerun: with no DNS answer, registration waited the resolver's 10 s."""
    settings.TAKEBACK_WEBHOOK_RESOLVE_TIMEOUT_SECONDS = 0.5
    real = socket.getaddrinfo

    def silent(host, *args, **kwargs):
        if host == "slow.example.net":
            time.sleep(3)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", silent)
    started = time.monotonic()
    response = acme.client.post(LIST, {"url": "https://slow.example.net/h"}, format="json")
    assert_error(response, 400, "bad_webhook_url")
    assert time.monotonic() - started < 2
