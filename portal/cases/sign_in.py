"""Signing in to a case (PIN), recovering it (recovery code) and staff sign-in, with lock-out.

The security sequence lives here, not in the pages: check the lock-out first,
then the secret, record the outcome, and re-check, so a guesser is refused
before any secret is compared and learns nothing from the order of answers.
The counters and their limits are in `throttling`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.crypto import salted_hmac

from portal.cases import services, throttling
from portal.cases.models import Case
from portal.cases.throttling import Lockout


@dataclass(frozen=True)
class SignIn:
    """The case signed in to, or why not (a lock-out, or None for a wrong secret)."""

    case: Case | None = None
    lockout: Lockout | None = None


@dataclass(frozen=True)
class Recovery:
    """A new PIN for the case, or why not."""

    created: services.CaseCreated | None = None
    lockout: Lockout | None = None


def case_sign_in(*, number: str, pin: str, client: str) -> SignIn:
    """Open a case with its number and PIN, counting failures per case and per client."""
    scope = {"action": "pin", "number": number, "client": client}
    lockout = throttling.secret_lockout_check(**scope)
    if lockout is not None:
        return SignIn(lockout=lockout)
    case = services.case_authenticate(number=number, pin=pin)
    if case is None:
        throttling.secret_failure_record(**scope)
        return SignIn(lockout=throttling.secret_lockout_check(**scope))
    throttling.secret_success_record(**scope)
    return SignIn(case=case)


def case_recover(*, number: str, recovery_code: str, client: str) -> Recovery:
    """Give the case a new PIN if the recovery code is right, with the same lock-out rules."""
    scope = {"action": "recovery", "number": number, "client": client}
    lockout = throttling.secret_lockout_check(**scope)
    if lockout is not None:
        return Recovery(lockout=lockout)
    created = services.case_pin_reset(number=number, recovery_code=recovery_code)
    if created is None:
        throttling.secret_failure_record(**scope)
        return Recovery()
    throttling.secret_success_record(**scope)
    return Recovery(created=created)


def case_session_check(*, case: Case) -> str:
    """A value tying a browser session to the PIN it was opened with: a PIN reset ends it."""
    return salted_hmac("takeback.case-session", case.pin_hash).hexdigest()


def case_session_valid(*, case: Case, check: str) -> bool:
    return throttling.constant_time_equal(check, case_session_check(case=case))


def _staff_scope(*, username: str, client: str) -> dict[str, str]:
    return {"action": "staff", "number": username[:150], "client": client}


def staff_sign_in_lockout(*, username: str, client: str) -> Lockout | None:
    """A Lockout if a caseworker's sign-in attempts are refused right now."""
    return throttling.secret_lockout_check(**_staff_scope(username=username, client=client))


def staff_sign_in_failed(*, username: str, client: str) -> None:
    """Count a wrong caseworker password against the username and the client."""
    throttling.secret_failure_record(**_staff_scope(username=username, client=client))
