"""Staff accounts for tests: users with a confirmed authenticator, codes from it, and
clients signed in the way the pages do it (password, then a second factor)."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.cases.models import Organisation
from portal.charities import services

PASSWORD = "a long passphrase 42"


def staff_user(
    username: str,
    *,
    organisation: Organisation | None = None,
    role: str = "caseworker",
    superuser: bool = False,
    with_device: bool = True,
):
    """A staff user with a confirmed TOTP device, member of `organisation` if given."""
    model = get_user_model()
    if superuser:
        user = model.objects.create_superuser(username, f"{username}@example.org", PASSWORD)
    else:
        user = model.objects.create_user(username, f"{username}@example.org", PASSWORD)
    if with_device:
        TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    if organisation is not None:
        services.membership_add(organisation=organisation, user=user, role=role)
    return user


def totp_code(device: TOTPDevice, *, at: float | None = None) -> str:
    """The code an authenticator app shows for `device` now (or at `at`)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{device.digits}d}"


def verified_login(client: Client, user) -> Client:
    """Sign `client` in as `user` with a verified second factor, without the pages."""
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def sign_in_through_pages(client: Client, user, *, password: str = PASSWORD):
    """Password, then the current TOTP code, through the real sign-in pages."""
    response = client.post(
        reverse("web:org_login"), {"username": user.get_username(), "password": password}
    )
    assert response.status_code == 302 and response.url == reverse("web:org_two_factor")
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return client.post(reverse("web:org_two_factor"), {"token": totp_code(device)})
