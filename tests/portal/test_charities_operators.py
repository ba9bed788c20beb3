"""The operators' area: onboarding a platform and an organisation without a Python shell,
key rotation and revocation, and the statistics page (aggregates, small counts suppressed)."""

import re

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from portal.cases.models import Organisation
from portal.charities import statistics
from portal.platforms.models import ApiKey, Decoy, Platform, WebhookEndpoint
from portal.platforms.services import api_key_authenticate, platform_create
from tests.support.factories import case_with_items
from tests.support.staff import staff_user, verified_login

pytestmark = pytest.mark.django_db

OPERATOR_PAGES = [
    "admin:charities_platform_onboard",
    "admin:charities_organisation_onboard",
    "admin:charities_statistics",
]


@pytest.fixture
def operator(client):
    return verified_login(client, staff_user("op", superuser=True))


@pytest.mark.parametrize("name", OPERATOR_PAGES)
def test_operator_pages_need_an_operator_with_a_second_factor(client, name):
    assert (
        client.get(reverse(name), follow=True)
        .redirect_chain[-1][0]
        .startswith(reverse("web:org_login"))
    )
    # A caseworker with both factors is not an operator.
    organisation = Organisation.objects.create(name="H", slug="h")
    verified_login(client, staff_user("worker", organisation=organisation))
    assert client.get(reverse(name)).status_code in (302, 403)
    assert client.get(reverse(name), follow=True).status_code == 403


@override_settings(TAKEBACK_WEBHOOK_ALLOW_HTTP_LOOPBACK=True)
def test_onboarding_a_platform_shows_its_keys_once_with_the_chosen_scopes(operator):
    page = operator.post(
        reverse("admin:charities_platform_onboard"),
        {
            "name": "Example Social",
            "scopes": ["feed:read", "feedback:write"],
            "webhook_url": "http://127.0.0.1:9/hook",
        },
    )
    assert page.status_code == 200
    html = page.content.decode()
    raws = re.findall(r"<code>(tb_[^<]+)</code>", html)
    assert raws, html
    platform = Platform.objects.get(name="Example Social")
    key = api_key_authenticate(raw=raws[0])
    assert key is not None and key.platform == platform
    assert sorted(key.scopes) == ["feed:read", "feedback:write"]
    assert Decoy.objects.filter(platform=platform).exists()
    assert WebhookEndpoint.objects.filter(platform=platform).exists()
    assert 'id="webhook-secret"' in html
    # Only digests are stored, and the keys page never shows a raw key again.
    keys_page = operator.get(reverse("admin:charities_platform_keys", args=[platform.pk]))
    assert all(raw not in keys_page.content.decode() for raw in raws)


def test_rotating_a_key_issues_a_new_one_and_revokes_the_old(operator):
    created = platform_create(name="Rotating")
    old = created.api_key
    url = reverse("admin:charities_platform_keys", args=[created.platform.pk])
    page = operator.post(url, {"key": old.api_key.pk, "rotate": "Rotate"}).content.decode()
    new_raw = re.search(r'id="rotated"><strong>New key \(shown once\): <code>([^<]+)</code>', page)
    assert new_raw
    assert api_key_authenticate(raw=old.raw) is None
    new = api_key_authenticate(raw=new_raw.group(1))
    assert new is not None and new.scopes == old.api_key.scopes
    operator.post(url, {"key": new.pk, "revoke": "Revoke"})
    assert api_key_authenticate(raw=new_raw.group(1)) is None
    assert ApiKey.objects.filter(platform=created.platform, revoked_at=None).count() == 2


def test_onboarding_an_organisation_invites_its_first_org_admin(
    operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = operator.post(
            reverse("admin:charities_organisation_onboard"),
            {"name": "Example Helpline", "admin_email": "lead@example.org"},
        )
    assert page.status_code == 200
    organisation = Organisation.objects.get(name="Example Helpline")
    assert organisation.slug == "example-helpline"
    invitation = organisation.invitations.get()
    assert invitation.role == "admin" and invitation.email == "lead@example.org"
    assert mail.outbox[0].to == ["lead@example.org"]


def test_statistics_suppress_small_counts_and_draw_svg(operator):
    for _ in range(6):
        case_with_items(1)
    stats = statistics.statistics()
    (cases,) = stats.cases
    assert cases.values[-1] == 6
    assert statistics.suppress(3) is None and statistics.suppress(0) == 0
    page = operator.get(reverse("admin:charities_statistics"))
    html = page.content.decode()
    assert page.status_code == 200 and '<svg class="chart" role="img"' in html
    assert "unsafe-inline" not in page["Content-Security-Policy"]
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="/static/' in tag, tag  # nothing from another site
    assert " style=" not in html


def test_statistics_show_fewer_than_five_instead_of_the_count(operator):
    case_with_items(1)
    html = operator.get(reverse("admin:charities_statistics")).content.decode()
    assert "&lt;5" in html


def test_platforms_without_keys_are_not_counted_on_the_statistics_page(operator):
    platform_create(name="Live")
    Platform.objects.create(name="Keyless")
    page = operator.get(reverse("admin:charities_statistics")).content.decode()
    table = page.split('id="platform-sync"')[1].split("</table>")[0]
    assert "Live" in table and "Keyless" not in table


def test_feed_lag_is_sampled_per_counted_platform_and_charted_over_time(operator):
    from portal.charities.models import PlatformSyncSample
    from portal.charities.tasks import platform_sync_sample_task

    live = platform_create(name="Live").platform
    Platform.objects.create(name="Keyless")
    case_with_items(2)
    assert platform_sync_sample_task.apply().get() == 1
    (sample,) = PlatformSyncSample.objects.all()
    assert sample.platform == live and sample.lag > 0 and not sample.synced_recently
    (series,) = statistics.statistics().lag_history
    assert series.name == "Live" and series.values[-1] == sample.lag
    html = operator.get(reverse("admin:charities_statistics")).content.decode()
    assert "<polyline" in html and "Feed lag per platform" in html


def test_no_admin_page_shows_a_staff_members_totp_key_or_recovery_codes(operator):
    from django_otp.plugins.otp_static.models import StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from portal.charities import two_factor

    user = staff_user("worker")
    codes = two_factor.recovery_codes_replace(user=user)
    device = TOTPDevice.objects.get(user=user)
    for url in [
        "/operators/otp_totp/totpdevice/",
        "/operators/otp_static/staticdevice/",
        f"/operators/otp_totp/totpdevice/{device.pk}/change/",
        f"/operators/otp_totp/totpdevice/{device.pk}/config/",
        f"/operators/otp_static/staticdevice/{StaticToken.objects.first().device_id}/change/",
    ]:
        response = operator.get(url)
        assert response.status_code == 404, url
        assert device.key not in response.content.decode()
        assert not any(code in response.content.decode() for code in codes)
