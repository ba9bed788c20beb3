"""Every staff route needs a second factor: a password alone opens nothing.

Staff sign-in is two steps (password, then TOTP or a recovery code); the first
sign-in sets up the authenticator and shows recovery codes once; operators'
admin pages need the same verified session; password reset goes by e-mail and
still leaves the second factor in place.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.cases.models import Organisation
from portal.charities import two_factor
from portal.charities.models import EnrolmentGrant, StaffRole
from tests.support.staff import (
    PASSWORD,
    sign_in_through_pages,
    staff_user,
    totp_code,
    verified_login,
)

pytestmark = pytest.mark.django_db

# A wrong code makes django-otp wait before the next try; these tests try right after.
no_otp_delay = override_settings(OTP_TOTP_THROTTLE_FACTOR=0, OTP_STATIC_THROTTLE_FACTOR=0)

STAFF_GET_ROUTES = [
    ("web:org_cases", []),
    ("web:org_handoffs", []),
    ("web:org_staff", []),
    ("web:org_case_link", []),
    ("web:org_case", ["AAAA-BBBB-CCCC-DDDD"]),
    ("admin:index", []),
    ("admin:cases_case_changelist", []),
    ("admin:platforms_platform_changelist", []),
]


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def organisation():
    return Organisation.objects.create(name="Helpline", slug="helpline")


@pytest.mark.parametrize(("name", "args"), STAFF_GET_ROUTES)
def test_a_password_alone_opens_no_staff_page(client, organisation, name, args):
    user = staff_user("admin1", organisation=organisation, role="admin", superuser=True)
    response = client.post(reverse("web:org_login"), {"username": "admin1", "password": PASSWORD})
    assert response.url == reverse("web:org_two_factor")
    assert "_auth_user_id" not in client.session  # nobody is signed in yet
    assert _lands_on_sign_in(client, reverse(name, args=args))
    # Even a session Django considers logged in, without the second factor, is refused.
    client.force_login(user)
    assert _lands_on_sign_in(client, reverse(name, args=args))


def _lands_on_sign_in(client, url: str) -> bool:
    page = client.get(url, follow=True)
    return bool(page.redirect_chain) and page.redirect_chain[-1][0].startswith(
        reverse("web:org_login")
    )


def test_totp_code_completes_the_sign_in_and_opens_the_pages(client, organisation):
    staff_user("worker", organisation=organisation)
    response = sign_in_through_pages(client, get_user_model().objects.get(username="worker"))
    assert response.status_code == 302 and response.url == reverse("web:org_cases")
    assert client.get(reverse("web:org_cases")).status_code == 200


@no_otp_delay
def test_a_wrong_code_is_refused_and_counted_like_a_wrong_password(client, organisation):
    staff_user("worker", organisation=organisation)
    client.post(reverse("web:org_login"), {"username": "worker", "password": PASSWORD})
    with override_settings(TAKEBACK_PIN_MAX_FAILURES_PER_CASE=2):
        for _ in range(2):
            page = client.post(reverse("web:org_two_factor"), {"token": "000000"})
            assert page.status_code == 200
        device = TOTPDevice.objects.get(user__username="worker")
        page = client.post(reverse("web:org_two_factor"), {"token": totp_code(device)})
    assert b"For your safety" in page.content
    assert "_auth_user_id" not in client.session


def test_the_half_done_sign_in_expires(client, organisation, monkeypatch):
    staff_user("worker", organisation=organisation)
    client.post(reverse("web:org_login"), {"username": "worker", "password": PASSWORD})
    monkeypatch.setattr(two_factor, "PENDING_SECONDS", -1)
    page = client.get(reverse("web:org_two_factor"))
    assert page.status_code == 302 and page.url == reverse("web:org_login")


@no_otp_delay
def test_first_sign_in_sets_up_the_app_and_shows_recovery_codes_once(client, organisation):
    user = staff_user("new", organisation=organisation, with_device=False)
    client.post(reverse("web:org_login"), {"username": "new", "password": PASSWORD})
    page = client.get(reverse("web:org_two_factor"))
    html = page.content.decode()
    assert 'class="qr"' in html and 'role="img"' in html  # the QR code, inline: no image request
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post(reverse("web:org_two_factor"), {"token": "123456"}).status_code == 200
    assert "_auth_user_id" not in client.session
    shown = client.post(reverse("web:org_two_factor"), {"token": totp_code(device)})
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", shown.content.decode())
    assert len(codes) == 10
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(codes)
    assert client.get(reverse("web:org_cases")).status_code == 200

    # Later, a recovery code signs in once instead of the app.
    client.post(reverse("web:org_logout"))
    client.post(reverse("web:org_login"), {"username": "new", "password": PASSWORD})
    done = client.post(reverse("web:org_two_factor"), {"token": codes[0].upper()})
    assert done.status_code == 302 and done.url == reverse("web:org_cases")
    client.post(reverse("web:org_logout"))
    client.post(reverse("web:org_login"), {"username": "new", "password": PASSWORD})
    again = client.post(reverse("web:org_two_factor"), {"token": codes[0]})
    assert again.status_code == 200 and "_auth_user_id" not in client.session


def test_operators_admin_needs_the_second_factor_and_sends_sign_in_to_the_staff_page(client):
    user = staff_user("op", superuser=True)
    page = client.get(reverse("admin:login"))
    assert page.status_code == 302 and page.url.startswith(reverse("web:org_login"))
    verified_login(client, user)
    assert client.get(reverse("admin:index")).status_code == 200
    sign_in = client.get(reverse("web:org_login") + "?next=/operators/")
    assert sign_in.status_code == 302  # already signed in: on to the admin


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [("/operators/", "/operators/"), ("https://evil.example/", "/caseworkers/")],
)
def test_after_sign_in_next_goes_back_but_never_off_site(client, next_url, lands_on):
    user = staff_user("op", superuser=True)
    client.post(
        reverse("web:org_login"), {"username": "op", "password": PASSWORD, "next": next_url}
    )
    device = TOTPDevice.objects.get(user=user)
    done = client.post(reverse("web:org_two_factor"), {"token": totp_code(device)})
    assert done.url == lands_on


def test_password_reset_mails_a_one_time_link_and_keeps_the_second_factor(client):
    user = staff_user("worker")
    page = client.post(reverse("web:org_password_reset"), {"email": user.email})
    assert page.url == reverse("web:org_password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    link = re.search(r"http://testserver(/caseworkers/password-reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    form = client.get(link.group(1), follow=True)
    new = "another long passphrase 77"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.url == reverse("web:org_password_reset_complete")
    assert "_auth_user_id" not in client.session  # a reset signs nobody in
    user.refresh_from_db()
    assert user.check_password(new)
    # The link worked once.
    assert b"expired or was already used" in client.get(link.group(1), follow=True).content
    # And the new password still leads to the second factor, not in.
    response = client.post(reverse("web:org_login"), {"username": "worker", "password": new})
    assert response.url == reverse("web:org_two_factor")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client):
    page = client.post(reverse("web:org_password_reset"), {"email": "nobody@example.org"})
    assert page.url == reverse("web:org_password_reset_done") and mail.outbox == []


def test_console_mail_on_the_embedded_default_and_smtp_by_environment():
    import environ

    env = environ.Env()
    assert env.email_url_config("consolemail://")["EMAIL_BACKEND"].endswith("console.EmailBackend")
    smtp = env.email_url_config("smtp+tls://user:pw@mail.example.org:587")
    assert smtp["EMAIL_BACKEND"].endswith("smtp.EmailBackend") and smtp["EMAIL_USE_TLS"]


def test_a_password_alone_cannot_enrol_a_new_phone_on_an_account_that_signed_in_before(
    client, organisation
):
    user = staff_user("worker", organisation=organisation, with_device=False)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    client.post(reverse("web:org_login"), {"username": "worker", "password": PASSWORD})
    page = client.get(reverse("web:org_two_factor"))
    assert page.status_code == 403 and b'class="qr"' not in page.content
    assert not TOTPDevice.objects.filter(user=user).exists()


@no_otp_delay
def test_an_operator_lets_someone_who_lost_their_phone_enrol_again(client, organisation):
    user = staff_user("worker", organisation=organisation)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    operator = staff_user("op", superuser=True)
    role = StaffRole.objects.get(user=user)
    verified_login(client, operator)
    client.post(
        reverse("admin:charities_staffrole_changelist"),
        {"action": "grant_new_authenticator", "_selected_action": [role.pk]},
    )
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    client.post(reverse("web:org_logout"))
    client.post(reverse("web:org_login"), {"username": "worker", "password": PASSWORD})
    assert b'class="qr"' in client.get(reverse("web:org_two_factor")).content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    client.post(reverse("web:org_two_factor"), {"token": totp_code(device)})
    assert client.get(reverse("web:org_cases")).status_code == 200
    assert not EnrolmentGrant.objects.filter(user=user).exists()  # used up


@override_settings(TAKEBACK_PIN_MAX_FAILURES_PER_CASE=2)
def test_password_reset_requests_are_throttled_without_saying_so(client):
    user = staff_user("worker")
    for _ in range(4):
        page = client.post(reverse("web:org_password_reset"), {"email": user.email})
        assert page.url == reverse("web:org_password_reset_done")
    assert len(mail.outbox) == 2
