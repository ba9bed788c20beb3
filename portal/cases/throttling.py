"""Throttles for secrets typed by people: PINs and recovery codes, and case creation.

Counters live in the cache (Redis in production, shared by every app server).
Failed attempts are counted per case and per client; either counter reaching
its limit locks further attempts until the window ends, even with the right
PIN, so guessing a PIN from its 10^8 possibilities is hopeless.

Clients are identified by a keyed hash of their IP address, kept only in the
cache for the length of the window: the address itself is never stored.
"""

import contextlib
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from portal.cases.services import case_number_normalise

_PREFIX = "tb:throttle"


@dataclass(frozen=True)
class Lockout:
    """Why attempts are refused and roughly for how long."""

    scope: str  # "case" or "client"
    minutes: int


def client_key(*, ip: str) -> str:
    """A keyed, one-way identifier of a client address (never the address)."""
    return salted_hmac("takeback.client", ip, algorithm="sha256").hexdigest()[:32]


def _case_key(number: str) -> str:
    # The typed number, normalised so that spelling variants share one counter;
    # counted whether or not such a case exists, so counts reveal nothing.
    canonical = case_number_normalise(number) or number.strip().upper()[:64]
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _keys(*, action: str, number: str, client: str) -> dict[str, str]:
    return {
        "case": f"{_PREFIX}:{action}:case:{_case_key(number)}",
        "client": f"{_PREFIX}:{action}:client:{client}",
    }


def _limits() -> dict[str, int]:
    return {
        "case": settings.TAKEBACK_PIN_MAX_FAILURES_PER_CASE,
        "client": settings.TAKEBACK_PIN_MAX_FAILURES_PER_CLIENT,
    }


def secret_lockout_check(*, action: str, number: str, client: str) -> Lockout | None:
    """A Lockout if attempts at this case's secret are refused right now."""
    window = settings.TAKEBACK_PIN_LOCKOUT_SECONDS
    keys = _keys(action=action, number=number, client=client)
    counts = cache.get_many(list(keys.values()))
    for scope, key in keys.items():
        if counts.get(key, 0) >= _limits()[scope]:
            return Lockout(scope=scope, minutes=max(1, window // 60))
    return None


def secret_failure_record(*, action: str, number: str, client: str) -> None:
    """Count a failed attempt against the case and the client."""
    window = settings.TAKEBACK_PIN_LOCKOUT_SECONDS
    for key in _keys(action=action, number=number, client=client).values():
        # add() starts the window once; incr() never extends it.
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)


def secret_success_record(*, action: str, number: str, client: str) -> None:
    """Forget the case's failures once the right secret is given.

    The client's count is kept: one right PIN must not reset a guesser
    working through many cases.
    """
    cache.delete(_keys(action=action, number=number, client=client)["case"])


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
