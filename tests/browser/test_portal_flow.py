"""The victim's whole journey in real Chromium: submit, note the secrets, check, add, withdraw."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import hashing
from portal.cases.models import Case, SubmittedHash
from tests.browser import test_portal_common as common
from tests.browser.test_portal_common import NEUTRAL_SITE, eligibility, status_login

# Shared fixtures, made visible to pytest in this module.
images = common.images
portal_page = common.portal_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_submit_check_add_and_withdraw(portal_page, images) -> None:
    portal, page = portal_page, portal_page.page
    portal.go("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Stop intimate images")
    portal.shot("01-home")
    page.get_by_role("link", name="Start").click()
    portal.shot("02-eligibility")
    eligibility(portal)

    chosen = [images[k] for k in ("beach", "bedroom", "party", "flat", "broken", "heic")]
    portal.choose(*(i.path for i in chosen))
    portal.wait_hashed(6)
    portal.shot("03-hashed")
    statuses = page.locator("#file-list .file-status")
    expect(statuses.nth(0)).to_have_class("file-status is-ok")
    expect(statuses.nth(3)).to_contain_text("very little detail")
    expect(statuses.nth(3)).to_contain_text("original photo rather than a screenshot")
    expect(statuses.nth(4)).to_have_class("file-status is-error")
    # This Chromium can't decode HEIC: say so, and offer to hash that one file on the
    # server inside this submission (test_portal_journey sends it).
    heic = page.locator("#file-list .file").nth(5)
    expect(heic.locator(".file-status")).to_contain_text("can't open this kind of photo")
    expect(heic.get_by_role("button", name="Hash IMG_0001.heic on our server")).to_be_disabled()
    expect(page.locator("#files-summary")).to_have_text("4 of 6 files ready. 2 could not be used.")
    # Previews were drawn from object URLs that are revoked once drawn.
    revoked = page.evaluate(
        """async () => Promise.all([...document.querySelectorAll('img.thumb')].map(
            img => new Promise(done => {
                const probe = new Image();
                probe.onload = () => done('alive');
                probe.onerror = () => done('revoked');
                probe.src = img.src;
            })))"""
    )
    assert revoked and set(revoked) == {"revoked"}
    # Chromium logs each refused probe as a failed load; those are expected here.
    portal.errors[:] = [e for e in portal.errors if "ERR_FILE_NOT_FOUND" not in e]

    page.get_by_label("Also give me a recovery code").check()
    page.get_by_role("button", name="Submit fingerprints of 4 files").click()
    created = page.locator("#created")
    expect(created).to_be_visible()
    expect(created).to_be_focused()
    portal.shot("04-created")
    number = page.locator("#secret-number").inner_text().strip()
    pin = page.locator("#secret-pin").inner_text().strip()
    recovery = page.locator("#secret-recovery").inner_text().strip()
    assert len(pin) == 8 and recovery

    # The saved text file is made on the page and holds the secrets.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Save as a text file").click()
    saved = download_info.value.path().read_text(encoding="utf-8")
    assert number in saved and pin in saved and recovery in saved

    case = Case.objects.get(number=number)
    assert case.subject == Case.Subject.PICTURED
    assert case.hashes.count() == 3 * 5 + 2  # the flat picture keeps its digests only
    for key in ("beach", "bedroom"):  # PNG: the browser's hashes equal the server's
        record = hashing.hash_image(images[key].path)
        item = case.hashes.get(algorithm="sha256", value=record["sha256"]).item_id
        stored = dict(case.hashes.filter(item_id=item).values_list("algorithm", "value"))
        assert stored == {a: record[a] for a in ("pdq", "phash", "dhash", "md5", "sha256")}
    flat = hashing.hash_image(images["flat"].path)
    flat_item = case.hashes.get(algorithm="sha256", value=flat["sha256"]).item_id
    assert set(case.hashes.filter(item_id=flat_item).values_list("algorithm", flat=True)) == {
        "md5",
        "sha256",
    }

    status_login(portal, number, pin)
    page.wait_for_url("**/case/status/")
    expect(page.locator("#case-number")).to_have_text(number)
    expect(page.locator(".case-item")).to_have_count(4)
    portal.shot("05-status")

    page.get_by_role("link", name="Add more images").click()
    portal.choose(images["later"].path)
    portal.wait_hashed(1)
    page.get_by_role("button", name="Submit fingerprints of 1 file").click()
    page.wait_for_url("**/case/status/")
    expect(page.locator(".notice-success")).to_contain_text("added")
    expect(page.locator(".case-item")).to_have_count(5)

    page.locator(".case-item").first.get_by_role("link", name="Withdraw").click()
    portal.shot("06-confirm-withdraw-one")
    page.get_by_role("button", name="Yes, withdraw").click()
    expect(page.locator(".case-item").first.locator(".badge")).to_have_text("Withdrawn")
    assert case.hashes.filter(status=SubmittedHash.Status.WITHDRAWN).count() == 5

    page.get_by_role("link", name="Withdraw the whole case").click()
    page.get_by_role("button", name="Yes, withdraw").click()
    expect(page.locator("#case-status")).to_contain_text("Withdrawn")
    portal.shot("07-withdrawn")
    case.refresh_from_db()
    assert case.status == Case.Status.WITHDRAWN
    assert not case.hashes.filter(status=SubmittedHash.Status.ACTIVE).exists()


def test_quick_exit_replaces_the_page_in_history(portal_page) -> None:
    portal, page = portal_page, portal_page.page
    portal.go("/")
    portal.go("/start/")
    before = page.evaluate("history.length")
    page.get_by_role("link", name="Quick exit").click()
    page.wait_for_url(NEUTRAL_SITE)
    # location.replace: no new history entry, so Back can't return to the portal page.
    assert page.evaluate("history.length") == before
    page.go_back()
    assert page.url.rstrip("/") == portal.base


def test_the_start_of_the_flow_works_with_the_keyboard_alone(portal_page) -> None:
    portal, page = portal_page, portal_page.page
    portal.go("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Quick exit")).to_be_focused()
    page.get_by_role("link", name="Start").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/start/")
    # Radio groups: Tab into the group, arrows to choose; Space ticks the box.
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # brand
    page.keyboard.press("Tab")  # quick exit
    page.keyboard.press("Tab")  # language menu (closed, its choices take no Tab stop)
    page.keyboard.press("Tab")  # first radio group
    page.keyboard.press("Space")
    expect(page.get_by_label("No, I was 18 or over in all of them")).to_be_checked()
    page.keyboard.press("Tab")  # second radio group
    page.keyboard.press("Space")
    expect(page.get_by_label("I am in the images")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Continue")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/submit/")
    page.locator("#hash-form[data-ready=true]").wait_for(state="attached")
    page.get_by_label("Choose photos or videos").focus()
    expect(page.locator("#files")).to_be_focused()


def test_files_can_be_dropped_and_the_printout_shows_only_the_secrets(portal_page) -> None:
    portal, page = portal_page, portal_page.page
    eligibility(portal)
    page.locator("#hash-form[data-ready=true]").wait_for(state="attached")
    # A real picture drawn on the page, dropped onto the drop zone as a file.
    page.evaluate(
        """async () => {
            const canvas = new OffscreenCanvas(320, 240);
            const ctx = canvas.getContext("2d");
            for (let i = 0; i < 40; i++) {
                ctx.fillStyle = `hsl(${i * 37 % 360}, 70%, ${30 + i % 40}%)`;
                ctx.fillRect((i * 53) % 300, (i * 29) % 220, 20 + i % 60, 15 + i % 45);
            }
            const blob = await canvas.convertToBlob({type: "image/png"});
            const transfer = new DataTransfer();
            transfer.items.add(new File([blob], "dropped.png", {type: "image/png"}));
            const zone = document.getElementById("dropzone");
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }"""
    )
    portal.wait_hashed(1)
    expect(page.locator(".file-name")).to_contain_text("dropped.png")
    page.get_by_role("button", name="Submit fingerprints of 1 file").click()
    expect(page.locator("#created")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator("#secret-pin")).to_be_visible()
    expect(page.locator(".print-only")).to_contain_text(f"{portal.base}/case/")
    for hidden in ("#quick-exit", ".site-footer", ".secret-actions", "h1"):
        expect(page.locator(hidden)).to_be_hidden()
    portal.shot("print")
