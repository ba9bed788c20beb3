"""The second factor every staff account uses: TOTP, with one-time recovery codes.

Built on django-otp (TOTPDevice, StaticDevice). A password alone never signs
anyone in: the sign-in page only remembers, in the session, who gave the right
password (for a few minutes); the session is authenticated (and marked verified
for django-otp) only once a TOTP code or a recovery code matches. django-otp's
devices throttle wrong codes themselves (an increasing delay after each
failure), so a guessed password does not make the six digits guessable.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp import devices_for_user, match_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.charities import qr
from portal.charities.models import EnrolmentGrant

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"

# Session keys of a sign-in half done (password right, second factor not yet).
SESSION_PENDING_USER = "tb_staff_pending_user"
SESSION_PENDING_AT = "tb_staff_pending_at"
SESSION_PENDING_NEXT = "tb_staff_pending_next"
SESSION_PENDING_BACKEND = "tb_staff_pending_backend"
PENDING_SECONDS = 5 * 60


def pending_start(*, request: HttpRequest, user: Any, next_url: str) -> None:
    """Remember that `user` gave the right password; nothing is signed in yet."""
    request.session.cycle_key()
    request.session[SESSION_PENDING_USER] = user.pk
    request.session[SESSION_PENDING_AT] = int(time.time())
    request.session[SESSION_PENDING_NEXT] = next_url
    # The backend that checked the password, for django.contrib.auth.login later.
    request.session[SESSION_PENDING_BACKEND] = getattr(
        user, "backend", "django.contrib.auth.backends.ModelBackend"
    )


def pending_user(*, request: HttpRequest) -> Any:
    """The user whose password was right a moment ago, or None (expired, or nobody)."""
    pk = request.session.get(SESSION_PENDING_USER)
    started = request.session.get(SESSION_PENDING_AT, 0)
    if pk is None or time.time() - started > PENDING_SECONDS:
        return None
    return get_user_model().objects.filter(pk=pk, is_active=True).first()


def pending_next(*, request: HttpRequest) -> str:
    return request.session.get(SESSION_PENDING_NEXT, "")


def pending_backend(*, request: HttpRequest) -> str:
    return request.session.get(SESSION_PENDING_BACKEND, "django.contrib.auth.backends.ModelBackend")


def has_second_factor(*, user: Any) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def enrolment_allowed(*, user: Any) -> bool:
    """May this account set up an authenticator with its password alone?

    Only a new account (never signed in), or one an operator granted it to
    (EnrolmentGrant): otherwise a stolen password would be enough to enrol the
    thief's phone on an account whose owner lost theirs.
    """
    if has_second_factor(user=user):
        return False
    return user.last_login is None or EnrolmentGrant.objects.filter(user=user).exists()


@transaction.atomic
def enrolment_grant(*, user: Any, by: Any) -> None:
    """An operator lets `user` set up a new authenticator: their old devices stop working."""
    for device in devices_for_user(user, confirmed=None):
        device.delete()
    EnrolmentGrant.objects.update_or_create(user=user, defaults={"granted_by": by})


def totp_device_pending(*, user: Any) -> TOTPDevice:
    """The user's authenticator being set up (created on first use, not yet confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def totp_qr_svg(*, device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code (markup, so the page's CSP allows it)."""
    return qr.qr_svg(text=device.config_url, title=_("QR code for your authenticator app"))


def totp_secret_text(*, device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app by hand."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@dataclass(frozen=True)
class Enrolled:
    device: TOTPDevice
    recovery_codes: list[str] = field(repr=False)


@transaction.atomic
def totp_confirm(*, user: Any, token: str) -> Enrolled | None:
    """Confirm the pending authenticator with a code from it; make fresh recovery codes."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(_digits(token)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    EnrolmentGrant.objects.filter(user=user).delete()
    return Enrolled(device=device, recovery_codes=recovery_codes_replace(user=user))


@transaction.atomic
def recovery_codes_replace(*, user: Any) -> list[str]:
    """New one-time recovery codes (the old ones stop working); shown once."""
    static, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


def _digits(token: str) -> str:
    return "".join(token.split())


def second_factor_verify(*, user: Any, token: str) -> Device | None:
    """The device that accepts `token` (a TOTP code or an unused recovery code), or None.

    A recovery code is used up by matching (django-otp deletes the StaticToken).
    """
    token = _digits(token).lower()
    if not token:
        return None
    return match_token(user, token)
