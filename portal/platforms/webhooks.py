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
servers call internal addresses. Every address a host resolves to is checked
at registration and again just before each attempt, and redirects are not
followed. (A DNS answer that changes between the check and the connection is
not caught; put the workers behind an egress proxy if that matters to you.)

Deliveries of one endpoint may arrive out of order (a retry overtakes); every
entry carries its feed position `seq`, and the README shows how to verify.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.exceptions import ApplicationError
from portal.platforms.feed import entry_wire, feed_head, feed_page_get, feed_served_record
from portal.platforms.models import Platform, WebhookDelivery, WebhookEndpoint

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
    """An endpoint must be https (plain http to loopback only when settings allow it)."""
    bad = ApplicationError("The webhook URL must be an https:// URL.", code="bad_webhook_url")
    if not isinstance(url, str) or len(url) > 500:
        raise bad
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise bad from None
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password or parts.fragment or port == 0:
        raise bad
    if not _destination_allowed(host):
        raise ApplicationError(
            "The webhook URL must point at a public internet address.", code="bad_webhook_url"
        )
    if parts.scheme == "https":
        return url
    if (
        parts.scheme == "http"
        and settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK
        and (host in _LOOPBACK_HOSTS or _is_loopback_ip(host))
    ):
        return url
    raise bad


def _destination_allowed(host: str) -> bool:
    """True unless `host` resolves to a non-public address (private, loopback, link-local...).

    A host that doesn't resolve yet is allowed here: the attempt itself then fails.
    Loopback is allowed only with TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK (tests).
    """
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return True
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address.is_global:
            continue
        if address.is_loopback and settings.TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK:
            continue
        return False
    return True


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer like any other non-2xx: never follow it elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        platform=platform, url=url, secret=secret, enqueued_seq=feed_head()
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
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint__platform")
            .get(pk=delivery_id)
        )
        if delivery.status != WebhookDelivery.Status.PENDING or not delivery.endpoint.is_active:
            return DeliveryOutcome(delivery.status, delivery.attempts, None, None)
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        endpoint = delivery.endpoint
        # The request is made while the row is locked: a duplicate task (Celery
        # delivers at least once) waits here and then sees the recorded outcome.
        timestamp = int(time.time())
        request = urllib.request.Request(  # noqa: S310 - scheme checked at registration
            endpoint.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Takeback-Webhooks/1",
                HEADER_ID: str(delivery.id),
                HEADER_TIMESTAMP: str(timestamp),
                HEADER_SIGNATURE: webhook_sign(
                    secret=endpoint.secret, timestamp=timestamp, body=body
                ),
            },
        )
        status_code, error = None, ""
        try:
            if not _destination_allowed((urlsplit(endpoint.url).hostname or "").lower()):
                raise OSError("the endpoint resolves to a non-public address")
            with _opener.open(
                request, timeout=settings.TAKEBACK_WEBHOOK_TIMEOUT_SECONDS
            ) as response:
                status_code = response.status
        except urllib.error.HTTPError as failure:
            status_code, error = failure.code, f"HTTP {failure.code}"
        except Exception as failure:
            # Whatever went wrong (refused, timed out, not HTTP at all) is one failed
            # attempt, recorded here and retried: it never escapes to the caller.
            error = f"{type(failure).__name__}: {failure}"[:500]
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
            update_fields=[
                "attempts",
                "last_status_code",
                "last_error",
                "status",
                "delivered_at",
            ]
        )
        return DeliveryOutcome(delivery.status, delivery.attempts, status_code, retry_in)


def _record_sent(*, delivery: WebhookDelivery) -> None:
    """Count the delivery as sent (fetched_seq) when it continues what the platform has."""
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
