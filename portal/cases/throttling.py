"""Throttles for secrets typed by people: PINs, recovery codes, staff passwords; case creation.

Counters live in the cache (Redis in production, shared by every app server;
production settings refuse to start without it). A failed attempt at a case's
secret (or a staff username's password) is counted three ways:

- per (case, client): TAKEBACK_PIN_MAX_FAILURES_PER_CASE (5) in
  TAKEBACK_PIN_LOCKOUT_SECONDS (15 min), then *that client* is refused on that case;
- per client, over every case: TAKEBACK_PIN_MAX_FAILURES_PER_CLIENT (20) in the
  same window, then that client is refused everywhere;
- per case, over every client: a slower budget, TAKEBACK_PIN_CASE_BUDGET (100)
  in TAKEBACK_PIN_CASE_BUDGET_SECONDS (24 h). Once it is spent, a client that
  has failed on this case within that day is refused; a client that has not
  may still try, and its first failure marks it.

So a stranger who knows a case number can lock only themselves out: the owner,
from a client that hasn't failed, still signs in with the right PIN (issue 10,
finding 4), while the guesses at one case in a day stay at most about the
budget plus one per address the guesser controls (docs/security.md works the
numbers; tests/portal/test_lockout.py checks them). Refusals come before the
secret is compared, even when it would be right.

Clients are identified by a keyed hash of their IP address (an IPv6 address
by its /64, which one subscriber usually holds whole), kept only in the cache
for the length of a window: the address itself is never stored.
"""

import contextlib
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from portal.cases.services import case_number_normalise

_PREFIX = "tb:throttle"


@dataclass(frozen=True)
class Lockout:
    """Why attempts are refused and roughly for how long."""

    scope: str  # "case" (this client, this case) or "client" (this client, every case)
    minutes: int


def client_key(*, ip: str) -> str:
    """A keyed, one-way identifier of a client address (never the address)."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        canonical = ip
    else:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            canonical = str(address.ipv4_mapped)
        elif isinstance(address, ipaddress.IPv6Address):
            canonical = str(ipaddress.IPv6Network(f"{address}/64", strict=False))
        else:
            canonical = str(address)
    return salted_hmac("takeback.client", canonical, algorithm="sha256").hexdigest()[:32]


def _case_key(number: str) -> str:
    # The typed number, normalised so that spelling variants share one counter;
    # counted whether or not such a case exists, so counts reveal nothing.
    canonical = case_number_normalise(number) or number.strip().upper()[:64]
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _keys(*, action: str, number: str, client: str) -> dict[str, str]:
    case = _case_key(number)
    return {
        "pair": f"{_PREFIX}:{action}:pair:{case}:{client}",
        "client": f"{_PREFIX}:{action}:client:{client}",
        "budget": f"{_PREFIX}:{action}:budget:{case}",
        "failed": f"{_PREFIX}:{action}:failed:{case}:{client}",
    }


def _state(*, action: str, number: str, client: str) -> tuple[dict[str, str], dict[str, int]]:
    keys = _keys(action=action, number=number, client=client)
    found = cache.get_many(list(keys.values()))
    return keys, {name: int(found.get(key, 0)) for name, key in keys.items()}


def _window_minutes() -> int:
    return max(1, settings.TAKEBACK_PIN_LOCKOUT_SECONDS // 60)


def secret_lockout_check(*, action: str, number: str, client: str) -> Lockout | None:
    """A Lockout if this client's attempts at this case's secret are refused right now."""
    _, counts = _state(action=action, number=number, client=client)
    if counts["client"] >= settings.TAKEBACK_PIN_MAX_FAILURES_PER_CLIENT:
        return Lockout(scope="client", minutes=_window_minutes())
    if counts["pair"] >= settings.TAKEBACK_PIN_MAX_FAILURES_PER_CASE:
        return Lockout(scope="case", minutes=_window_minutes())
    if counts["budget"] >= settings.TAKEBACK_PIN_CASE_BUDGET and counts["failed"]:
        return Lockout(
            scope="case", minutes=max(1, settings.TAKEBACK_PIN_CASE_BUDGET_SECONDS // 60)
        )
    return None


def secret_attempts_left(*, action: str, number: str, client: str) -> int:
    """How many more failures this client may make here before it is refused (read-only).

    For the warning a person sees before their last attempt; it changes no count.
    """
    _, counts = _state(action=action, number=number, client=client)
    left = min(
        settings.TAKEBACK_PIN_MAX_FAILURES_PER_CLIENT - counts["client"],
        settings.TAKEBACK_PIN_MAX_FAILURES_PER_CASE - counts["pair"],
    )
    if counts["budget"] >= settings.TAKEBACK_PIN_CASE_BUDGET:
        left = min(left, 0 if counts["failed"] else 1)
    return max(0, left)


def _count(key: str, window: int) -> None:
    # add() starts the window once; incr() never extends it.
    cache.add(key, 0, timeout=window)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)


def secret_failure_record(*, action: str, number: str, client: str) -> None:
    """Count a failed attempt: for this client at this case, this client, and the case's budget."""
    keys = _keys(action=action, number=number, client=client)
    window = settings.TAKEBACK_PIN_LOCKOUT_SECONDS
    day = settings.TAKEBACK_PIN_CASE_BUDGET_SECONDS
    _count(keys["pair"], window)
    _count(keys["client"], window)
    _count(keys["budget"], day)
    cache.set(keys["failed"], 1, timeout=day)


def secret_success_record(*, action: str, number: str, client: str) -> None:
    """Forget this client's failures at this case once it gives the right secret.

    The client's count over all cases is kept (one right PIN must not reset a
    guesser working through many cases), and so is the case's budget (only
    the passing of time gives it back).
    """
    keys = _keys(action=action, number=number, client=client)
    cache.delete_many([keys["pair"], keys["failed"]])


def _creation_key(client: str) -> str:
    return f"{_PREFIX}:create:client:{client}"


def case_creation_allowed(*, client: str) -> bool:
    """Reserve a case creation; False once a client made too many in the window.

    Call it before the expensive part (hashing uploads), and hand the place back
    with `case_creation_refund` when no case is created, so refused submissions
    don't use up the quota.
    """
    key = _creation_key(client)
    window = settings.TAKEBACK_CASE_CREATION_WINDOW_SECONDS
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=window)
        count = 1
    return count <= settings.TAKEBACK_CASE_CREATION_MAX_PER_CLIENT


def case_creation_refund(*, client: str) -> None:
    """Give back a place reserved by `case_creation_allowed` for a case that wasn't created."""
    with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing to give back
        cache.decr(_creation_key(client))


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
