"""The victim's journey as a frightened person on a phone meets it (issue 15, items 1-9).

One test per item, each driving the real pages in Debian's Chromium: quick exit
that really ends the visit, age asked about the images, a PIN that can't be lost
or doubled, files told apart by their labels, outcomes counted per file and per
platform, HEIC hashed on the server inside the same submission, a server path
that keeps the good files, a warning before the last PIN attempt, and the
smaller fixes (error summary, blurred previews, limits told up front...).
"""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

import hashing
from portal.cases.models import Case, SubmittedHash
from portal.platforms.models import HashFeedback, Platform
from portal.platforms.services import platform_create
from tests.browser import test_portal_common as common
from tests.browser.test_portal_common import NEUTRAL_SITE, PHONE, eligibility, status_login
from tests.support.factories import case_with_items

images = common.images
portal_page = common.portal_page
no_js_page = common.no_js_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone_page(chromium, live_server, artifacts_dir, request):
    yield from common._portal_page(chromium, live_server, artifacts_dir, request, PHONE)


def _submit_new(portal, *paths, recovery: bool = False) -> tuple[str, str]:
    page = portal.page
    eligibility(portal)
    portal.choose(*paths)
    portal.wait_hashed(len(paths))
    if recovery:
        page.get_by_label("Also give me a recovery code").check()
    page.locator("#submit-button").click()
    expect(page.locator("#created")).to_be_visible()
    number = page.locator("#secret-number").inner_text().strip()
    pin = page.locator("#secret-pin").inner_text().strip()
    return number, pin


# 1. Quick exit -----------------------------------------------------------------------


def test_quick_exit_ends_the_case_session_from_the_keyboard(portal_page, images) -> None:
    portal, page = portal_page, portal_page.page
    created = case_with_items(1)
    status_login(portal, created.case.number, created.pin)
    page.wait_for_url("**/case/status/")
    page.keyboard.press("Escape")
    page.wait_for_url(NEUTRAL_SITE)
    # Back does not show the case: the case session ended with the exit.
    page.go_back()
    page.wait_for_load_state()
    assert created.case.number not in page.content()
    portal.go("/case/status/")
    page.wait_for_url("**/case/")

    # Shift three times, as GOV.UK's "Exit this page" does; it ends a selection too.
    eligibility(portal)
    portal.choose(images["beach"].path)
    page.locator("body").click()
    for _ in range(3):
        page.keyboard.press("Shift")
    page.wait_for_url(NEUTRAL_SITE)
    portal.go("/submit/")
    page.wait_for_url("**/start/")

    # The site says honestly what the browser's history still shows.
    portal.go("/")
    note = page.locator("#exit-history-note")
    expect(note).to_contain_text("history")
    expect(note).to_contain_text("Esc")
    portal.shot("home")


def test_esc_first_closes_the_language_menu_then_quick_exits(phone_page) -> None:
    portal, page = phone_page, phone_page.page
    portal.go("/start/")
    menu, toggle = page.locator(".language-menu"), page.locator(".language-toggle")

    # Opened with a tap: Esc closes it and leaves focus on its button; the page stays.
    toggle.click()
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(toggle).to_be_focused()
    assert page.url.endswith("/start/")
    portal.shot("language-menu-closed-by-esc")

    # Opened from the keyboard, focus on one of its languages: the same.
    page.locator("body").click(position={"x": 5, "y": 300})
    toggle.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    expect(page.locator(".language-option").first).to_be_focused()
    portal.shot("language-menu-open-by-keyboard")
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(toggle).to_be_focused()
    assert page.url.endswith("/start/")

    # A second Esc, with the menu closed, is the quick exit.
    page.keyboard.press("Escape")
    page.wait_for_url(NEUTRAL_SITE)


# 2. Age in the images ------------------------------------------------------------------


def test_age_is_asked_about_the_images_and_a_minor_is_routed_at_once(portal_page) -> None:
    portal, page = portal_page, portal_page.page
    portal.go("/start/")
    age = page.get_by_role("group", name=re.compile("in any of the images"))
    expect(age).to_be_visible()
    # An adult whose images were taken at 16: routed as soon as they answer.
    page.get_by_label("Yes, or I'm not sure").check()
    routed = page.locator("#minor-route")
    expect(routed).to_be_visible()
    expect(routed.get_by_role("link", name=re.compile("Take It Down"))).to_be_visible()
    portal.shot("minor")
    page.get_by_label("No, I was 18 or over in all of them").check()
    expect(routed).to_be_hidden()
    page.get_by_label("Yes, or I'm not sure").check()
    page.locator("input[name=subject][value=pictured]").check()
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Help for images taken under 18")


# 3. The PIN can't be lost or doubled ------------------------------------------------------


def test_leaving_the_created_page_asks_first(portal_page, images) -> None:
    portal, page = portal_page, portal_page.page
    _number, pin = _submit_new(portal, images["beach"].path)
    dialogs: list[str] = []

    def dismiss(dialog) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    # "Stay on the page": the reload is cancelled, so it never finishes.
    with pytest.raises(PlaywrightTimeoutError):
        page.reload(timeout=3000)
    assert dialogs == ["beforeunload"]
    expect(page.locator("#secret-pin")).to_have_text(pin)
    page.get_by_label("I have saved my case number and PIN").check()
    portal.shot("saved")
    page.reload()
    assert dialogs == ["beforeunload"]


def test_reloading_the_server_result_makes_no_second_case(no_js_page, tmp_path) -> None:
    portal, page = no_js_page, no_js_page.page
    photo = common.save(common.photo(11), tmp_path / "p.png", "PNG").path
    eligibility(portal)
    portal.go("/submit/on-server/")
    page.locator("input[name=files]").set_input_files([str(photo)])
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Send for hashing").click()
    number = page.locator("#secret-number").inner_text().strip()
    assert not page.url.endswith("/submit/on-server/")
    page.reload()
    expect(page.locator("#secret-number")).to_have_text(number)
    assert Case.objects.count() == 1
    portal.shot("done")


# 4. Labels beside file names -----------------------------------------------------------


def test_each_file_shows_the_label_the_status_page_uses(portal_page, images) -> None:
    portal, page = portal_page, portal_page.page
    chosen = [images["beach"], images["party"]]
    labels = [hashing.hash_image(i.path)["sha256"][:8] for i in chosen]
    eligibility(portal)
    portal.choose(*(i.path for i in chosen))
    portal.wait_hashed(2)
    for n, label in enumerate(labels):
        expect(page.locator("#file-list .file").nth(n).locator(".file-label")).to_have_text(label)
    page.locator("#submit-button").click()
    expect(page.locator("#created")).to_be_visible()
    rows = page.locator("#created-files li")
    for n, (image, label) in enumerate(zip(chosen, labels, strict=True)):
        expect(rows.nth(n)).to_contain_text(image.path.name)
        expect(rows.nth(n)).to_contain_text(label)
    portal.shot("created")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Save as a text file").click()
    saved = download_info.value.path().read_text(encoding="utf-8")
    for image, label in zip(chosen, labels, strict=True):
        assert f"{image.path.name}: {label}" in saved
    assert "takeback" not in download_info.value.suggested_filename.lower()
    page.get_by_label("I have saved my case number and PIN").check()
    page.locator("#status-link").click()
    page.wait_for_url("**/case/status/")
    expect(page.locator(".case-item code")).to_have_text(labels)


# 5. Outcomes per file and per platform ----------------------------------------------------


def test_outcomes_are_counted_per_file_and_platform(portal_page) -> None:
    portal, page = portal_page, portal_page.page
    created = case_with_items(2)
    # Platforms that take part: a live key, and they have fetched the feed.
    one = platform_create(name="Example Social").platform
    two = platform_create(name="Picture Board").platform
    Platform.objects.update(fetched_seq=1)
    first_item = created.case.hashes.order_by("pk").first().item_id
    # One upload, reported by MD5, SHA-256 and PDQ: one copy, not three.
    for row in created.case.hashes.filter(item_id=first_item, algorithm__in=["md5", "sha256"]):
        HashFeedback.objects.create(platform=one, submitted_hash=row, outcome="blocked")
    pdq = created.case.hashes.get(item_id=first_item, algorithm="pdq")
    HashFeedback.objects.create(platform=one, submitted_hash=pdq, outcome="blocked")
    HashFeedback.objects.create(platform=two, submitted_hash=pdq, outcome="not_violating")
    status_login(portal, created.case.number, created.pin)
    page.wait_for_url("**/case/status/")
    distribution = page.locator("#distribution")
    expect(distribution).to_contain_text("Blocked or removed: 1 file on 1 platform")
    expect(distribution).to_contain_text("Reviewed and left up: 1 file on 1 platform")
    first = page.locator(".case-item").first
    expect(first).to_contain_text("Blocked on 1 platform")
    expect(first).to_contain_text("left up on 1")
    expect(page.locator("#outcome-disagreement")).to_be_visible()
    expect(page.locator("#platforms-explained")).to_contain_text("of")
    portal.shot("status")
    page.get_by_role("link", name="list of participating platforms").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Participating platforms")
    expect(page.locator("#platform-list li")).to_have_text(["Example Social", "Picture Board"])
    portal.shot("platforms")


# 6. HEIC in a mixed selection -------------------------------------------------------------


def test_a_heic_photo_is_hashed_on_the_server_inside_the_same_submission(
    portal_page, images
) -> None:
    portal, page = portal_page, portal_page.page
    eligibility(portal)
    portal.choose(images["beach"].path, images["heic"].path)
    portal.wait_hashed(2)
    heic = page.locator("#file-list .file").nth(1)
    expect(heic.locator(".file-status")).to_contain_text("can't open this kind of photo")
    button = heic.get_by_role("button", name="Hash IMG_0001.heic on our server")
    expect(button).to_be_disabled()
    heic.get_by_label(re.compile("send this one file")).check()
    portal.shot("heic-consent")
    button.click()
    expect(heic.locator(".file-status")).to_have_class(re.compile("is-ok"))
    expect(page.locator("#files-summary")).to_have_text("2 of 2 files ready.")
    page.locator("#submit-button").click()
    expect(page.locator("#created")).to_be_visible()
    assert Case.objects.count() == 1
    case = Case.objects.get()
    record = hashing.hash_bytes(images["heic"].data)
    assert case.hashes.filter(algorithm="sha256", value=record["sha256"]).exists()
    assert case.hashes.values("item_id").distinct().count() == 2


# 7. Server path keeps the good files ------------------------------------------------------


def test_the_server_path_keeps_the_good_files_and_names_the_bad(no_js_page, images) -> None:
    portal, page = no_js_page, no_js_page.page
    eligibility(portal)
    expect(page.locator("main")).not_to_contain_text("Your browser makes", use_inner_text=True)
    page.get_by_role("link", name="Use server-side hashing instead").click()
    page.locator("input[name=files]").set_input_files(
        [str(images["beach"].path), str(images["broken"].path)]
    )
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Send for hashing").click()
    problems = page.locator("#upload-errors")
    expect(problems).to_contain_text("broken.jpg")
    expect(page.locator("#upload-kept")).to_contain_text("beach-holiday.png")
    expect(page.locator("input[name=consent]")).to_be_checked()
    assert not Case.objects.exists()
    portal.shot("kept")
    page.get_by_role("button", name=re.compile("Continue with 1 file")).click()
    expect(page.locator("#secret-number")).to_be_visible()
    expect(page.locator("#created")).not_to_contain_text(
        "A saved file is made on this device", use_inner_text=True
    )
    case = Case.objects.get()
    record = hashing.hash_image(images["beach"].path)
    assert case.hashes.filter(algorithm="sha256", value=record["sha256"]).exists()
    assert case.hashes.count() == 5


# 8. Lock-out warning --------------------------------------------------------------------------


@override_settings(TAKEBACK_PIN_MAX_FAILURES_PER_CASE=3)
def test_a_warning_comes_before_the_last_attempt(portal_page) -> None:
    portal, page = portal_page, portal_page.page
    created = case_with_items(1)
    wrong = "0" * 8 if created.pin != "0" * 8 else "1" * 8
    status_login(portal, created.case.number, wrong)
    expect(page.get_by_role("alert")).not_to_contain_text("last")
    status_login(portal, created.case.number, wrong)
    expect(page.get_by_role("alert")).to_contain_text("one more try")
    portal.shot("warning")


# 9. The smaller things ------------------------------------------------------------------------


def test_errors_are_specific_summarised_and_focused(portal_page) -> None:
    portal, page = portal_page, portal_page.page
    portal.go("/start/")
    page.get_by_role("button", name="Continue").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("were under 18 in any of the images")
    expect(summary).not_to_contain_text("This field is required")
    summary.get_by_role("link").first.click()
    expect(page.locator("input[name=age]").first).to_be_focused()
    portal.shot("errors")
    portal.go("/case/")
    page.get_by_role("button", name="Open my case").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("Enter your case number")
    page.get_by_role("link", name="Enter your PIN.").click()
    expect(page.get_by_label("PIN")).to_be_focused()
    portal.shot("login-errors")


def test_the_hashing_page_blurs_previews_and_tells_limits_first(portal_page, images) -> None:
    portal, page = portal_page, portal_page.page
    eligibility(portal)
    expect(page.locator("#files-hint")).to_contain_text("100 files")
    expect(page.locator("#files-hint")).to_contain_text("re-encoded or trimmed copies are matched")
    expect(page.locator("#files-hint")).to_contain_text("2 hours long and 4 GB")
    portal.choose(images["beach"].path, images["video"].path)
    portal.wait_hashed(2)
    thumb = page.locator("img.thumb").first
    expect(thumb).to_have_class(re.compile("is-blurred"))
    page.get_by_role("button", name="Show previews").click()
    expect(thumb).not_to_have_class(re.compile("is-blurred"))
    portal.shot("previews")


def test_a_failed_file_shows_no_full_bar(portal_page, images) -> None:
    portal, page = portal_page, portal_page.page
    eligibility(portal)
    portal.choose(images["broken"].path)
    portal.wait_hashed(1)
    expect(page.locator("#file-list progress")).to_be_hidden()


def test_the_created_page_opens_the_case_without_retyping(portal_page, images) -> None:
    portal, page = portal_page, portal_page.page
    number, _pin = _submit_new(portal, images["beach"].path)
    page.get_by_label("I have saved my case number and PIN").check()
    page.locator("#status-link").click()
    page.wait_for_url("**/case/status/")
    expect(page.locator("#case-number")).to_have_text(number)


def test_recovery_of_a_withdrawn_case_shows_no_sharing_date(portal_page) -> None:
    from tests.support.factories import CaseFactory

    portal, page = portal_page, portal_page.page
    created = CaseFactory(recoverable=True, withdrawn=True)
    portal.go("/case/recover/")
    page.get_by_label("Case number").fill(created.case.number)
    page.get_by_label("Recovery code").fill(created.recovery_code)
    page.get_by_role("button", name="Get a new PIN").click()
    expect(page.locator("#secret-pin")).to_be_visible()
    expect(page.locator("#created")).not_to_contain_text("shared until")


def test_on_a_phone_start_and_language_are_in_reach(phone_page) -> None:
    portal, page = phone_page, phone_page.page
    portal.go("/")
    start = page.get_by_role("link", name="Start", exact=True).bounding_box()
    assert start["y"] + start["height"] <= PHONE["height"], start
    language = page.locator("header").get_by_label("Language").bounding_box()
    assert language["height"] >= 44 and language["width"] >= 44, language
    portal.shot("home")


def test_withdrawn_hashes_count_as_withdrawn(portal_page) -> None:
    # A guard on the status page's figures while it changes (not an item of its own).
    portal, page = portal_page, portal_page.page
    created = case_with_items(1)
    status_login(portal, created.case.number, created.pin)
    page.wait_for_url("**/case/status/")
    assert SubmittedHash.objects.filter(case=created.case).count() > 1
    expect(page.locator("#case-hashes")).to_contain_text("1 file active")
