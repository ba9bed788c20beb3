"""The charity journey in real Chromium, two browsers: a caseworker's computer and the
victim's phone.

An organisation is onboarded with an invitation; its first admin accepts it and sets
up an authenticator app (the code computed from the key the page shows); they make a
hand-off link; the victim opens it on their phone, agrees to link the case, submits
from the phone; a platform reports a block; the caseworker sees the link used and
follows the case to its first reported block. Every page is checked with axe-core,
must not scroll sideways, and is saved to test-artifacts/.
"""

from __future__ import annotations

import base64
import re

import pytest
from django.utils import timezone
from django_otp.oath import TOTP
from playwright.sync_api import expect

from portal.cases.models import Case, Organisation
from portal.charities import services
from portal.platforms.models import HashFeedback, Platform
from portal.platforms.services import platform_create
from tests.browser import test_portal_common as common
from tests.browser.test_portal_a11y import AXE, RUN_AXE
from tests.browser.test_portal_common import DESKTOP, PHONE

pytestmark = [pytest.mark.browser]

# The shared header (templates/base.html, its language menu) is checked on every victim
# page by test_portal_a11y.py; here axe looks at what these pages add.
RUN_AXE_BELOW_HEADER = RUN_AXE.replace(
    "axe.run(document,", 'axe.run({include: [["main"], ["footer"]]},'
)
assert RUN_AXE_BELOW_HEADER != RUN_AXE

images = common.images


class Checked:
    """A portal page that runs axe and checks the width before each screenshot."""

    def __init__(self, portal: common.PortalPage) -> None:
        self.portal = portal
        self.page = portal.page
        self.violations: dict[str, list[str]] = {}
        portal.page.add_init_script(path=str(AXE))

    def __call__(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        found = self.page.evaluate(RUN_AXE_BELOW_HEADER)
        if found:
            self.violations[name] = found
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.page.viewport_size["width"], f"{name} scrolls sideways: {width}px"
        self.portal.shot(name)

    def shoot(self, name: str) -> None:
        """An operators' page: the admin's own chrome is Django's; axe checks our content."""
        self.page.wait_for_load_state("load")
        found = self.page.evaluate(RUN_AXE.replace("axe.run(document,", 'axe.run("#content",'))
        if found:
            self.violations[name] = found
        self.portal.shot(name)
        assert self.violations == {}


def _code_from_page(secret_text: str) -> str:
    """What an authenticator app shows for the key the set-up page displays."""
    key = "".join(secret_text.split())
    key += "=" * (-len(key) % 8)
    totp = TOTP(base64.b32decode(key))
    return f"{totp.token():06d}"


@pytest.mark.django_db(transaction=True)
def test_handoff_from_invitation_to_the_first_reported_block(
    chromium, live_server, artifacts_dir, request, images
) -> None:
    platform = platform_create(name="Example Social").platform
    organisation = Organisation.objects.create(name="Example Helpline", slug="example")
    invited = services.invitation_create(
        organisation=organisation,
        email="lead@example.org",
        role="admin",
        created_by=None,
        base_url=live_server.url,
    )

    staff_pages = common._portal_page(chromium, live_server, artifacts_dir, request, DESKTOP)
    staff_portal = next(staff_pages)
    staff = Checked(staff_portal)
    page = staff.page

    # The first org admin accepts the invitation and sets up the second factor.
    page.goto(invited.url)
    staff("01-invitation")
    page.get_by_label("Choose a username").fill("lead")
    page.get_by_label("Choose a password").fill("a long passphrase 42")
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/caseworkers/two-factor/")
    expect(page.locator("svg.qr")).to_be_visible()
    staff("02-two-factor-setup")
    code = _code_from_page(page.locator("#totp-secret").inner_text())
    page.get_by_label("The 6-digit code your app shows now").fill(code)
    page.get_by_role("button", name="Turn on and sign in").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    staff("03-recovery-codes")
    page.get_by_role("link", name="I have saved them: continue").click()
    page.wait_for_url("**/caseworkers/")
    staff("04-dashboard-empty")

    # The org admin invites a caseworker.
    page.get_by_role("link", name="Staff").click()
    page.get_by_label("Their work e-mail address").fill("worker@example.org")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator("#invitation-url")).to_contain_text("/caseworkers/invitation/")
    staff("04b-staff")

    # A hand-off link for the victim's own phone.
    page.get_by_role("link", name="Hand-off links").click()
    page.get_by_role("button", name="Create a new hand-off link").click()
    expect(page.locator("#new-handoff svg.qr")).to_be_visible()
    staff("05-handoff-created")
    url = page.locator("#handoff-url").inner_text().strip()
    assert "/h/" in url

    # The victim, on their phone, in another browser.
    victim_pages = common._portal_page(chromium, live_server, artifacts_dir, request, PHONE)
    victim_portal = next(victim_pages)
    victim = Checked(victim_portal)
    phone = victim.page
    phone.goto(url)
    expect(phone.get_by_text("Example Helpline gave you this link")).to_be_visible()
    victim("06-handoff-landing")
    phone.get_by_label("Yes, link my new case to this organisation").check()
    phone.get_by_role("button", name="Continue").click()
    phone.wait_for_url("**/start/")
    common.eligibility(victim_portal)  # the usual steps, as without a link
    victim_portal.choose(images["beach"].path)
    victim_portal.wait_hashed(1)
    phone.locator("#submit-button").click()
    expect(phone.locator("#created")).to_be_visible()
    number = phone.locator("#secret-number").inner_text().strip()
    case = Case.objects.get(number=number)
    assert case.organisation == organisation

    # The platform fetches the feed and reports a block.
    head = case.hashes.order_by("-feed_seq").first().feed_seq
    Platform.objects.filter(pk=platform.pk).update(fetched_seq=head, fetched_at=timezone.now())
    HashFeedback.objects.create(
        platform=platform, submitted_hash=case.hashes.first(), outcome=HashFeedback.Outcome.BLOCKED
    )

    # The caseworker sees the link used and follows the case to its first block.
    page.goto(live_server.url + "/caseworkers/hand-off/")
    row = page.locator("#handoff-table tbody tr").first
    expect(row).to_contain_text("Used")
    staff("07-handoff-used")
    page.goto(live_server.url + "/caseworkers/")
    expect(page.locator("#case-table")).to_contain_text(number)
    staff("08-dashboard")
    page.get_by_role("link", name=number).click()
    expect(page.locator("#case-blocks")).to_have_text("1")
    expect(page.locator("#timeline")).to_contain_text("First block reported by a platform")
    staff("09-case")
    page.goto(page.url + "&print=1")
    staff("10-case-summary")
    page.emulate_media(media="print")
    expect(page.locator(".print-title")).to_be_visible()
    expect(page.locator(".staff-nav")).to_be_hidden()
    expect(page.get_by_text(number)).to_be_visible()
    staff_portal.shot("11-case-summary-printed")
    page.emulate_media(media="screen")

    assert staff.violations == {} and victim.violations == {}
    for pages in (victim_pages, staff_pages):
        with pytest.raises(StopIteration):
            next(pages)  # closes the context and checks for script or CSP errors


@pytest.mark.django_db(transaction=True)
def test_staff_sign_in_pages_are_accessible(chromium, live_server, artifacts_dir, request):
    from tests.support.staff import PASSWORD, staff_user, totp_code

    user = staff_user("worker", organisation=Organisation.objects.create(name="H", slug="h"))
    for portal in common._portal_page(chromium, live_server, artifacts_dir, request, PHONE):
        checked = Checked(portal)
        page = portal.page
        portal.go("/caseworkers/sign-in/")
        checked("01-sign-in")
        page.get_by_label("Username").fill("worker")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/caseworkers/two-factor/")
        page.get_by_role("button", name="Continue").click()
        checked("02-code")
        device = user.totpdevice_set.get()
        page.get_by_label("Code from your authenticator app, or a recovery code").fill(
            totp_code(device)
        )
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/caseworkers/")
        checked("03-dashboard-phone")
        portal.go("/caseworkers/cases/link/")
        checked("04-link-a-case")
        portal.go("/caseworkers/password-reset/")
        checked("05-password-reset")
        portal.go("/h/")
        checked("06-handoff-code")
        assert checked.violations == {}


@pytest.mark.django_db(transaction=True)
def test_operator_onboards_and_reads_statistics(
    chromium, live_server, artifacts_dir, request
) -> None:
    from portal.cases.services import case_withdraw
    from tests.support.factories import case_with_items
    from tests.support.staff import PASSWORD, staff_user, totp_code

    operator = staff_user("op", superuser=True)
    made = platform_create(name="Example Social")
    cases = [case_with_items(2) for _ in range(8)]
    case_withdraw(case=cases[0].case)
    for created in cases[:6]:
        HashFeedback.objects.create(
            platform=made.platform,
            submitted_hash=created.case.hashes.first(),
            outcome=HashFeedback.Outcome.BLOCKED,
        )
    services.platform_sync_sample_take()  # what Celery beat does every 15 minutes
    for portal in common._portal_page(chromium, live_server, artifacts_dir, request, DESKTOP):
        checked = Checked(portal)
        page = portal.page
        portal.go("/operators/")
        page.wait_for_url("**/caseworkers/sign-in/**")
        page.get_by_label("Username").fill("op")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Code from your authenticator app, or a recovery code").fill(
            totp_code(operator.totpdevice_set.get())
        )
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/operators/")
        expect(page.locator("#operator-tasks")).to_be_visible()
        checked.shoot("op-01-index")
        page.get_by_role("link", name="Onboard a platform").click()
        page.get_by_label("Name").fill("Another Platform")
        page.get_by_role("button", name="Onboard").click()
        expect(page.locator("#issued-keys code")).to_have_count(3)
        checked.shoot("op-02-platform-keys-once")
        page.get_by_role("link", name="Manage its keys (rotate, revoke)").click()
        page.get_by_role("button", name=re.compile("^Rotate")).first.click()
        expect(page.locator("#rotated")).to_be_visible()
        checked.shoot("op-03-rotated")
        portal.go("/operators/onboarding/organisation/")
        page.get_by_label("Name").fill("Example Helpline")
        page.get_by_label("First org admin's e-mail").fill("lead@example.org")
        page.get_by_role("button", name="Onboard").click()
        expect(page.locator("#invitation-url")).to_contain_text("/caseworkers/invitation/")
        checked.shoot("op-04-organisation")
        portal.go("/operators/statistics/")
        expect(page.locator("svg.chart").first).to_be_visible()
        checked.shoot("op-05-statistics")
        assert Organisation.objects.filter(name="Example Helpline").exists()


@pytest.mark.django_db(transaction=True)
def test_a_full_dashboard_fits_1280_px_and_pages(chromium, live_server, artifacts_dir, request):
    from portal.cases.services import case_withdraw
    from tests.support.factories import case_with_items
    from tests.support.staff import staff_user, verified_login

    organisation = Organisation.objects.create(name="Busy Helpline", slug="busy")
    user = staff_user("worker", organisation=organisation)
    made = platform_create(name="Example Social").platform
    created = [case_with_items(3, organisation=organisation) for _ in range(55)]
    case_withdraw(case=created[1].case)
    for done in created[::4]:
        HashFeedback.objects.create(
            platform=made, submitted_hash=done.case.hashes.first(), outcome="blocked"
        )
    from django.test import Client

    client = verified_login(Client(), user)
    session_cookie = client.cookies["sessionid"].value
    for portal in common._portal_page(chromium, live_server, artifacts_dir, request, DESKTOP):
        portal.page.context.add_cookies(
            [{"name": "sessionid", "value": session_cookie, "url": live_server.url}]
        )
        checked = Checked(portal)
        page = portal.page
        portal.go("/caseworkers/")
        expect(page.locator("#case-table tbody tr")).to_have_count(50)
        expect(page.get_by_text("Page 1 of 2 (55 cases)")).to_be_visible()
        checked("dashboard-full")
        page.get_by_role("link", name="Next").click()
        expect(page.locator("#case-table tbody tr")).to_have_count(5)
        page.get_by_label("Show").select_option("withdrawn")
        page.get_by_role("button", name="Find").click()
        expect(page.locator("#case-table tbody tr")).to_have_count(1)
        checked("dashboard-filtered")
