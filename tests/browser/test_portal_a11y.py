"""Accessibility and layout of every page of the flow, at phone and desktop width.

axe-core (vendored under tests/browser/vendor/, injected by the test only)
must find no serious or critical violation on any page; no page may scroll
sideways at 360 px; each page is saved as a screenshot in test-artifacts/.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from portal.cases.models import Organisation
from tests.browser import test_portal_common as common
from tests.browser.test_portal_common import DESKTOP, PHONE, eligibility, status_login
from tests.support.factories import case_with_items
from tests.support.staff import totp_code

pytestmark = [pytest.mark.browser]

images = common.images

VENDOR = Path(__file__).with_name("vendor")
AXE = VENDOR / "axe-core-4.14.1" / "axe.min.js"
RUN_AXE = """async () => {
    const result = await axe.run(document, {
        runOnly: {type: "tag", values: [
            "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    });
    return result.violations
        .filter(v => v.impact === "serious" || v.impact === "critical")
        .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(" ")).join(", ")}`);
}"""


def test_vendored_files_match_the_recorded_checksums() -> None:
    readme = (VENDOR / "README.md").read_text()
    recorded = dict(re.findall(r"\| `(axe-core-[^`]+)` \| `[^`]+` \| `([0-9a-f]{64})` \|", readme))
    assert recorded, "no checksums found in vendor/README.md"
    on_disk = {
        p.relative_to(VENDOR).as_posix()
        for p in VENDOR.rglob("*")
        if p.is_file() and p.name != "README.md"
    }
    assert on_disk == set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


class Checker:
    def __init__(self, portal: common.PortalPage) -> None:
        self.portal = portal
        self.pages: list[str] = []
        self.violations: dict[str, list[str]] = {}

    def __call__(self, name: str, *, shot: bool = True) -> None:
        page = self.portal.page
        page.wait_for_load_state("load")
        self.pages.append(name)
        found = page.evaluate(RUN_AXE)
        if found:
            self.violations[name] = found
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], f"{name} scrolls sideways: {width}px"
        if shot:
            self.portal.shot(name)


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def checked_page(request, chromium, live_server, artifacts_dir):
    for portal in common._portal_page(chromium, live_server, artifacts_dir, request, request.param):
        # An init script is not subject to the page's CSP, so the policy stays
        # exactly as served; axe is injected into the test page only.
        portal.page.add_init_script(path=str(AXE))
        yield portal


@pytest.mark.django_db(transaction=True)
def test_every_page_of_the_flow_is_accessible(checked_page, images) -> None:
    portal, page = checked_page, checked_page.page
    check = Checker(portal)

    portal.go("/")
    check("01-home")
    portal.go("/start/")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".field-error").first).to_be_visible()
    check("02-eligibility-errors")
    page.get_by_label("Yes, or I'm not sure").check()
    check("02b-eligibility-minor-routed")
    page.locator("input[name=subject][value=pictured]").check()
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Continue").click()
    check("03-under-18")

    eligibility(portal)
    check("04-choose")
    files = [images[k] for k in ("beach", "party", "flat", "broken")]
    portal.choose(*(i.path for i in files))
    portal.wait_hashed(4)
    page.locator("main details summary").click()
    check("05-hashed-review")
    page.get_by_label("Also give me a recovery code").check()
    page.get_by_role("button", name="Submit fingerprints of 3 files").click()
    expect(page.locator("#created")).to_be_visible()
    check("06-created")
    number = page.locator("#secret-number").inner_text().strip()
    pin = page.locator("#secret-pin").inner_text().strip()

    status_login(portal, number, "00000000" if pin != "00000000" else "11111111")
    expect(page.get_by_role("alert")).to_be_visible()
    check("07-login-error")
    status_login(portal, number, pin)
    page.wait_for_url("**/case/status/")
    check("08-status")
    page.get_by_role("link", name="Add more images").click()
    check("09-add")
    portal.go("/case/status/")
    page.locator(".case-item").first.get_by_role("link", name="Withdraw").click()
    check("10-confirm-withdraw-one")
    page.get_by_role("button", name="Yes, withdraw").click()
    check("11-status-after-withdraw")
    page.get_by_role("link", name="Withdraw the whole case").click()
    check("12-confirm-withdraw-case")
    page.get_by_role("button", name="Yes, withdraw").click()
    check("13-withdrawn")

    portal.go("/case/recover/")
    check("14-recover")
    eligibility(portal)
    portal.go("/submit/on-server/")
    page.get_by_role("button", name="Send for hashing").click()
    check("15-server-hashing-errors")
    page.locator("input[name=files]").set_input_files(
        [str(images["beach"].path), str(images["broken"].path)]
    )
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Send for hashing").click()
    check("15b-server-hashing-kept")
    page.get_by_role("button", name="Continue with 1 file").click()
    page.wait_for_url("**/submit/on-server/done/")
    check("15c-server-created")
    portal.go("/platforms/")
    check("15d-platforms")

    user = get_user_model().objects.create_user("caseworker", password="a long passphrase 42")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    organisation = Organisation.objects.create(name="Example Helpline", slug="example")
    organisation.members.add(user)
    case_with_items(2, organisation=organisation)
    portal.go("/caseworkers/sign-in/")
    check("16-caseworker-sign-in")
    page.get_by_label("Username").fill("caseworker")
    page.get_by_label("Password").fill("a long passphrase 42")
    page.get_by_role("button", name="Sign in").click()
    # Every staff sign-in asks for a second factor (tests/browser/test_charities_browser.py).
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        totp_code(device)
    )
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/caseworkers/")
    check("17-caseworker-cases")

    assert len(check.pages) == 21
    assert check.violations == {}


@pytest.mark.django_db(transaction=True)
def test_spanish_pages_and_messages(chromium, live_server, artifacts_dir, request, images) -> None:
    for portal in common._portal_page(chromium, live_server, artifacts_dir, request, PHONE):
        page = portal.page
        portal.go("/")
        page.get_by_label("Language").click()  # the header's language menu
        page.get_by_role("button", name="Español").click()
        expect(page.get_by_role("link", name="Salida rápida")).to_be_visible()
        portal.shot("es-home")
        portal.go("/start/")
        page.locator("input[name=age][value=adult]").check()
        page.locator("input[name=subject][value=synthetic]").check()
        page.locator("input[name=consent]").check()
        page.get_by_role("button", name="Continuar").click()
        page.wait_for_url("**/submit/")
        portal.choose(images["beach"].path)
        portal.wait_hashed(1)
        expect(page.locator(".file-status")).to_have_text(
            "Listo: huellas creadas en este dispositivo."
        )
        expect(page.locator("#submit-button")).to_have_text("Enviar las huellas de 1 archivo")
        portal.shot("es-choose")


OTHER_LANGUAGES = [code for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


@pytest.mark.django_db(transaction=True)
def test_a_page_set_is_accessible_in_every_language(checked_page) -> None:
    """The same ten pages in each language but English (the flow above), chosen from the
    header, at 360 and 1280 px; one browser session per language."""
    portal, page = checked_page, checked_page.page
    checker = Checker(portal)
    phone = page.viewport_size["width"] == PHONE["width"]

    def check(name: str) -> None:
        # Every page is checked at both widths; screenshots of all at 360 px, of the
        # home page at 1280 px (time: 130 full-page screenshots per width add up).
        checker(name, shot=phone or name.endswith("-home"))

    for code in OTHER_LANGUAGES:
        page.context.clear_cookies()  # a fresh visit: no case open, no language chosen
        portal.go("/")
        page.get_by_label("Language").click()
        page.locator(f"button[name=language][value={code}]").click()
        expect(page.locator("html")).to_have_attribute("lang", code)
        check(f"{code}-01-home")
        page.locator(".language-toggle").click()
        check(f"{code}-02-language-menu")
        page.locator(".language-toggle").click()

        portal.go("/start/")
        page.locator("main form button[type=submit]").click()
        expect(page.locator(".field-error").first).to_be_visible()
        check(f"{code}-03-start-errors")
        page.locator("input[name=age][value=adult]").check()
        page.locator("input[name=subject][value=pictured]").check()
        page.locator("input[name=consent]").check()
        page.locator("main form button[type=submit]").click()
        page.wait_for_url("**/submit/")
        check(f"{code}-04-choose")
        portal.go("/submit/on-server/")
        page.locator("main form button[type=submit]").click()
        expect(page.locator(".field-error, #error-summary").first).to_be_visible()
        check(f"{code}-05-server-hashing-errors")

        created = case_with_items(2)
        wrong = "00000000" if created.pin != "00000000" else "11111111"
        portal.go("/case/")
        page.locator("input[name=number]").fill(created.case.number)
        page.locator("input[name=pin]").fill(wrong)
        page.locator("main form button[type=submit]").click()
        expect(page.get_by_role("alert")).to_be_visible()
        check(f"{code}-06-login-error")
        page.locator("input[name=number]").fill(created.case.number)
        page.locator("input[name=pin]").fill(created.pin)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url("**/case/status/")
        check(f"{code}-07-status")
        portal.go("/case/recover/")
        check(f"{code}-08-recover")
        portal.go("/platforms/")
        check(f"{code}-09-platforms")
        portal.go("/caseworkers/sign-in/")
        check(f"{code}-10-caseworker-sign-in")

    assert len(checker.pages) == 10 * len(OTHER_LANGUAGES)
    assert checker.violations == {}
