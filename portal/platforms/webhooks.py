"""Webhooks: push new hashes and removals to platforms' HTTPS endpoints.

The feed stays the source of truth; webhooks only spare platforms the polling.
`webhooks_dispatch` cuts each active endpoint's unsent part of the feed into
deliveries (at most TAKEBACK_WEBHOOK_BATCH_SIZE entries each), following the
feed's rule (read the head first, serve positions up to it) so nothing is
skipped. Each delivery is stored with its exact body (entries in the feed's
one wire form, `feed.entry_wire`) and sent by a Celery task until the endpoint
answers 2xx, with exponential backoff. The tasks (portal/platforms/tasks.py)
are queued by a feed listener registered at start-up (apps.py), so nothing
that writes the feed needs to know webhooks exist.

Every request carries:

    Takeback-Webhook-Id:        the delivery id (the same on every retry: de-duplicate on it)
    Takeback-Webhook-Timestamp: Unix time of this attempt
    Takeback-Webhook-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

Endpoints must be public: a platform key must not become a way to make our
servers call internal addresses (SSRF). The URL is checked exactly as the HTTP
client here will use it (`_target_parse`): the host must be a plain ASCII DNS
name or an IP literal, so a percent-encoded, trailing-dot or look-alike name is
refused instead of being decoded later by a client library; the name must
resolve, and every address it resolves to must be public (`_address_allowed`,
which also looks inside NAT64, IPv4-mapped, 6to4 and Teredo addresses and
refuses multicast). That is checked at registration and again at each attempt,
and the attempt connects to the very address it checked (the connection is
pinned, http.client with our own `connect`), so a DNS answer that changes
between the check and the connection (rebinding) is never used. Redirects are
not followed and no proxy from the environment is used.

The signing secret is stored sealed (Fernet, with a key derived from
SECRET_KEY by HKDF): a database dump without the settings can't sign
deliveries. Rotating SECRET_KEY keeps old secrets readable while the old key
is listed in SECRET_KEY_FALLBACKS.

Deliveries of one endpoint may arrive out of order (a retry overtakes); every
entry carries its feed position `seq`, and the README shows how to verify.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import secrets
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from portal.exceptions import ApplicationError
from portal.platforms.feed import entry_wire, feed_head, feed_page_get, feed_served_record
from portal.platforms.models import Platform, WebhookDelivery, WebhookEndpoint
from portal.sealing import seal, unseal
from portal.trust.audit import platform_audit

MAX_ENDPOINTS_PER_PLATFORM = 5
SIGNATURE_VERSION = "v1"
HEADER_ID = "Takeback-Webhook-Id"
HEADER_TIMESTAMP = "Takeback-Webhook-Timestamp"
HEADER_SIGNATURE = "Takeback-Webhook-Signature"
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class WebhookCreated:
    endpoint: WebhookEndpoint
    secret: str  # shown once to the platform


def webhook_url_validate(*, url: str) -> str:
    """An endpoint must be https to a public address (plain http to loopback only in tests)."""
    target = _target_parse(url)
    loopback = target.host in _LOOPBACK_HOSTS or _is_loopback_ip(target.host)
    if target.scheme == "http" and not (settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK and loopback):
        raise _bad_url()
    try:
        _destination_addresses(target)
    except OSError as failure:
        raise ApplicationError(
            f"The webhook URL must point at a public internet address ({failure}).",
            code="bad_webhook_url",
        ) from None
    return url


def _bad_url() -> ApplicationError:
    return ApplicationError("The webhook URL must be an https:// URL.", code="bad_webhook_url")


# A DNS name as it goes on the wire: ASCII letters, digits and hyphens in dot-separated
# labels (IDNs in their xn-- form), a top-level label that starts with a letter (so
# 2130706433 or 0x7f.1 are not taken for names), no trailing dot, at most 253 characters.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}\Z)(?:{_LABEL}\.)*[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?\Z")
_PATH = re.compile(r"[!-~]*\Z")  # printable ASCII, no spaces or controls
# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): the IPv4 address is the last 32 bits.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


@dataclass(frozen=True)
class _Target:
    """Where an attempt goes, in the very form the client below uses."""

    scheme: str
    host: str  # lower-case name or IP literal (no brackets): the Host header and TLS name
    port: int
    path: str  # request target: path and query


def _target_parse(url: object) -> _Target:
    if not isinstance(url, str) or len(url) > 500 or not url.isascii():
        raise _bad_url()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise _bad_url() from None
    host = parts.hostname or ""
    if (
        parts.scheme not in ("https", "http")
        or parts.username is not None
        or parts.password is not None
        or parts.fragment
        or port == 0
        or not _PATH.match(parts.path + parts.query)
    ):
        raise _bad_url()
    if not _is_ip(host) and not _HOSTNAME.match(host):
        # Percent-encoded, trailing dot, spaces, non-ASCII...: refused, never decoded.
        raise _bad_url()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if parts.scheme == "https" else 80
    return _Target(scheme=parts.scheme, host=host, port=port or default_port, path=path)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# getaddrinfo has no timeout of its own (a resolver that doesn't answer holds the caller
# for the resolver's retries): lookups run on these threads and are given up after
# TAKEBACK_WEBHOOK_RESOLVE_TIMEOUT_SECONDS, so a registration never hangs on DNS.
_RESOLVERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="takeback-resolve")


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses `host` resolves to now (an IP literal is itself); raises OSError."""
    if _is_ip(host):
        return [ipaddress.ip_address(host)]
    lookup = _RESOLVERS.submit(
        socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    try:
        infos = lookup.result(timeout=settings.TAKEBACK_WEBHOOK_RESOLVE_TIMEOUT_SECONDS)
    except FuturesTimeout:
        raise OSError("the name did not resolve in time") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _embedded(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The address and every IPv4 address carried inside it (the packet may end up there)."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            found.append(address.ipv4_mapped)
        if address.sixtofour:
            found.append(address.sixtofour)
        if address.teredo:
            found.extend(address.teredo)
        if any(address in net for net in (*_NAT64, _IPV4_COMPATIBLE)):
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Public unicast only (loopback too when TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK, for tests)."""
    for candidate in _embedded(address):
        if candidate.is_loopback and settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK:
            continue
        if candidate.is_multicast or not candidate.is_global:
            return False
    return True


def _destination_addresses(target: _Target) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses to connect to, all checked; raises OSError when none may be used."""
    try:
        addresses = _resolve(target.host, target.port)
    except (OSError, UnicodeError) as failure:
        raise OSError(f"the endpoint's name does not resolve: {failure}") from None
    if not addresses:
        raise OSError("the endpoint's name does not resolve")
    if not all(_address_allowed(address) for address in addresses):
        raise OSError("the endpoint resolves to a non-public address")
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a checked address, whatever the name resolves to by now."""

    def __init__(self, target: _Target, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address; the certificate is verified for the name."""

    def __init__(self, target: _Target, address: str, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _post(*, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST once to a checked, pinned address; the status code (3xx included, never followed)."""
    target = _target_parse(url)
    addresses = _destination_addresses(target)
    timeout = settings.TAKEBACK_WEBHOOK_TIMEOUT_SECONDS
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(target, str(addresses[0]), timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # the answer's body is not used; read a little, politely
        return response.status
    finally:
        connection.close()


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_SEALED_PREFIX = "sealed1:"


# portal/sealing.py's key for this purpose is the one secrets were first sealed with
# (HKDF info "takeback.webhook-secret"), so stored secrets open unchanged.
_SEAL_PURPOSE = "webhook-secret"


def secret_seal(secret: str) -> str:
    """The stored form of a signing secret (encrypted and authenticated)."""
    return _SEALED_PREFIX + seal(secret, purpose=_SEAL_PURPOSE)


def secret_unseal(stored: str) -> str:
    """The signing secret back from its stored form; ValueError if this key can't open it."""
    if not stored.startswith(_SEALED_PREFIX):
        raise ValueError("the webhook secret is not sealed")
    secret = unseal(stored[len(_SEALED_PREFIX) :], purpose=_SEAL_PURPOSE)
    if secret is None:
        raise ValueError("the webhook secret can't be opened with this SECRET_KEY")
    return secret


def webhook_sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for one attempt."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


@transaction.atomic
def webhook_create(*, platform: Platform, url: str) -> WebhookCreated:
    """Register an endpoint; it is pushed changes from the current feed position on."""
    url = webhook_url_validate(url=url)
    active = WebhookEndpoint.objects.filter(platform=platform, is_active=True)
    if active.count() >= MAX_ENDPOINTS_PER_PLATFORM:
        raise ApplicationError(
            f"A platform may register at most {MAX_ENDPOINTS_PER_PLATFORM} webhooks.",
            code="too_many_webhooks",
        )
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    endpoint = WebhookEndpoint.objects.create(
        platform=platform, url=url, secret=secret_seal(secret), enqueued_seq=feed_head()
    )
    return WebhookCreated(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_delete(*, platform: Platform, endpoint_id: int) -> None:
    """Stop pushing to an endpoint (pending deliveries are dropped)."""
    if not 0 < endpoint_id < 2**63:
        raise ApplicationError("No such webhook.", code="not_found")
    endpoint = (
        WebhookEndpoint.objects.select_for_update()
        .filter(platform=platform, pk=endpoint_id, is_active=True)
        .first()
    )
    if endpoint is None:
        raise ApplicationError("No such webhook.", code="not_found")
    endpoint.is_active = False
    endpoint.deleted_at = timezone.now()
    endpoint.save(update_fields=["is_active", "deleted_at"])
    endpoint.deliveries.filter(status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, last_error="webhook deleted"
    )


def webhooks_wanted() -> bool:
    """Whether any platform has an active endpoint (else a feed change needs no dispatch)."""
    return WebhookEndpoint.objects.filter(is_active=True, platform__is_active=True).exists()


@transaction.atomic
def webhooks_dispatch() -> list[str]:
    """Cut every active endpoint's unsent feed changes into deliveries; returns their ids.

    The caller sends each delivery once this has committed (tasks.py).
    """
    head = feed_head()
    batch = settings.TAKEBACK_WEBHOOK_BATCH_SIZE
    created: list[str] = []
    # SKIP LOCKED: two dispatchers running at once split the endpoints, never double-send.
    endpoints = (
        WebhookEndpoint.objects.select_for_update(skip_locked=True)
        .select_related("platform")
        .filter(is_active=True, platform__is_active=True, enqueued_seq__lt=head)
    )
    for endpoint in endpoints:
        position = endpoint.enqueued_seq
        while position < head:
            page = feed_page_get(platform=endpoint.platform, after=position, limit=batch, head=head)
            if page.entries:
                delivery = WebhookDelivery.objects.create(
                    endpoint=endpoint,
                    first_seq=page.entries[0].seq,
                    last_seq=page.position,
                    payload={},
                )
                delivery.payload = {
                    "delivery_id": str(delivery.id),
                    "position": page.position,
                    "entries": [entry_wire(e) for e in page.entries],
                }
                delivery.save(update_fields=["payload"])
                created.append(str(delivery.id))
            position = page.position
        endpoint.enqueued_seq = position
        endpoint.save(update_fields=["enqueued_seq"])
    return created


def webhook_deliveries_pending() -> list[str]:
    """Ids of the deliveries still to be sent to active endpoints (oldest first)."""
    pending = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING,
        endpoint__is_active=True,
        endpoint__platform__is_active=True,
    ).order_by("created_at")
    return [str(pk) for pk in pending.values_list("pk", flat=True)]


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str
    attempts: int
    status_code: int | None
    retry_in: float | None  # seconds until the next attempt, or None when done


def retry_delay(*, attempts: int) -> float:
    """Exponential backoff: BASE, 2*BASE, 4*BASE ... capped at MAX."""
    base = settings.TAKEBACK_WEBHOOK_RETRY_BASE_SECONDS
    return float(min(base * 2 ** (attempts - 1), settings.TAKEBACK_WEBHOOK_RETRY_MAX_SECONDS))


def webhook_deliver(*, delivery_id: str) -> DeliveryOutcome:
    """Make one attempt at a pending delivery and record the outcome."""
    if connection.vendor == "sqlite":
        # SQLite locks the whole database for a write transaction (IMMEDIATE): holding
        # one across the HTTP request would stop every page for up to the timeout. On
        # the embedded default one thread sends (tasks.py), so there is no duplicate to
        # serialise: read, send outside any transaction, then record.
        delivery = _delivery(delivery_id, lock=False)
        if delivery.status != WebhookDelivery.Status.PENDING or not delivery.endpoint.is_active:
            return DeliveryOutcome(delivery.status, delivery.attempts, None, None)
        status_code, error = _attempt(delivery)
        with transaction.atomic():
            delivery = _delivery(delivery_id, lock=True)
            if delivery.status != WebhookDelivery.Status.PENDING:
                return DeliveryOutcome(delivery.status, delivery.attempts, None, None)
            return _outcome_record(delivery, status_code, error)
    with transaction.atomic():
        delivery = _delivery(delivery_id, lock=True)
        if delivery.status != WebhookDelivery.Status.PENDING or not delivery.endpoint.is_active:
            return DeliveryOutcome(delivery.status, delivery.attempts, None, None)
        # The request is made while the row is locked: a duplicate task (Celery
        # delivers at least once) waits here and then sees the recorded outcome.
        status_code, error = _attempt(delivery)
        return _outcome_record(delivery, status_code, error)


def _delivery(delivery_id: str, *, lock: bool) -> WebhookDelivery:
    rows = WebhookDelivery.objects.select_related("endpoint__platform")
    return (rows.select_for_update() if lock else rows).get(pk=delivery_id)


def _attempt(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the delivery's exact body once, signed for this attempt: (status, error)."""
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Takeback-Webhooks/1",
        HEADER_ID: str(delivery.id),
        HEADER_TIMESTAMP: str(timestamp),
    }
    try:
        secret = secret_unseal(delivery.endpoint.secret)
        headers[HEADER_SIGNATURE] = webhook_sign(secret=secret, timestamp=timestamp, body=body)
        status_code = _post(url=delivery.endpoint.url, body=body, headers=headers)
    except Exception as failure:
        # Whatever went wrong (refused, timed out, not HTTP at all) is one failed
        # attempt, recorded by the caller and retried: it never escapes.
        return None, f"{type(failure).__name__}: {failure}"[:500]
    return status_code, "" if 200 <= status_code < 300 else f"HTTP {status_code}"


def _outcome_record(
    delivery: WebhookDelivery, status_code: int | None, error: str
) -> DeliveryOutcome:
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error
    retry_in = None
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.last_error = ""
        _record_sent(delivery=delivery)
    elif delivery.attempts >= settings.TAKEBACK_WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    else:
        retry_in = retry_delay(attempts=delivery.attempts)
    delivery.save(
        update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at"]
    )
    return DeliveryOutcome(delivery.status, delivery.attempts, status_code, retry_in)


def _record_sent(*, delivery: WebhookDelivery) -> None:
    """Log the push, and count it as sent (fetched_seq) when it continues what the platform has."""
    # Every push of hashes is in the audit log, as every feed download is.
    platform_audit(
        platform=delivery.endpoint.platform,
        action="webhook_push",
        detail={
            "from": delivery.first_seq,
            "to": delivery.last_seq,
            "entries": len(delivery.payload.get("entries", [])),
        },
    )
    earlier_open = delivery.endpoint.deliveries.filter(first_seq__lt=delivery.first_seq).exclude(
        status=WebhookDelivery.Status.DELIVERED
    )
    if earlier_open.exists():
        return
    feed_served_record(
        platform_id=delivery.endpoint.platform_id,
        position=delivery.last_seq,
        contiguous_from=delivery.first_seq,
    )
