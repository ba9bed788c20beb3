"""The portal's languages in Chromium: each renders, Arabic and Urdu are laid out right to
left at 360 px, the header's language menu works and is remembered, and the browser's
Accept-Language decides until a choice is made. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.utils import translation
from playwright.sync_api import expect

from tests.browser import test_portal_common as common
from tests.browser.test_portal_common import DESKTOP, PHONE

pytestmark = [pytest.mark.browser]

LANGUAGES = [code for code, _ in settings.LANGUAGES]
RIGHT_TO_LEFT = [code for code in LANGUAGES if translation.get_language_info(code)["bidi"]]


def _page(chromium, live_server, artifacts_dir, request, viewport, **context):
    """A portal page whose browser context takes extra options (locale, headers)."""
    original = chromium.new_context

    def new_context(**kwargs):
        return original(**kwargs, **context)

    chromium_with_options = type("Browser", (), {"new_context": staticmethod(new_context)})
    return common._portal_page(chromium_with_options, live_server, artifacts_dir, request, viewport)


def _translated(code: str, msgid: str) -> str:
    with translation.override(code):
        return translation.gettext(msgid)


def test_the_right_to_left_languages_are_arabic_and_urdu() -> None:
    assert RIGHT_TO_LEFT == ["ar", "ur"]


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_language_renders_in_its_own_words(
    code, chromium, live_server, artifacts_dir, request
) -> None:
    for portal in _page(chromium, live_server, artifacts_dir, request, PHONE, locale=code):
        page = portal.page
        portal.go("/")
        html = page.locator("html")
        expect(html).to_have_attribute("lang", code)
        if code in RIGHT_TO_LEFT:
            expect(html).to_have_attribute("dir", "rtl")
        else:
            assert html.get_attribute("dir") in (None, "ltr")
        quick_exit = _translated(code, "Quick exit")
        if code != "en":
            assert quick_exit != "Quick exit", f"{code}: Quick exit is not translated"
        expect(page.locator("#quick-exit")).to_contain_text(quick_exit)
        expect(
            page.get_by_role("link", name=_translated(code, "Start"), exact=True)
        ).to_be_visible()
        # The helplines of the language's countries follow the UK's and worldwide ones.
        expect(page.locator("#helplines")).to_contain_text("Revenge Porn Helpline")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        portal.shot(f"{code}-home")


@pytest.mark.parametrize("code", RIGHT_TO_LEFT)
def test_right_to_left_pages_are_mirrored_at_360_px(
    code, chromium, live_server, artifacts_dir, request
) -> None:
    for portal in _page(chromium, live_server, artifacts_dir, request, PHONE, locale=code):
        page = portal.page
        width = PHONE["width"]
        portal.go("/")
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        brand = page.locator(".brand").bounding_box()
        exit_box = page.locator("#quick-exit").bounding_box()
        menu = page.locator(".language-toggle").bounding_box()
        # Mirrored header: the name at the right edge, Quick exit and the menu to its left.
        assert brand["x"] + brand["width"] > width - 24, brand
        assert exit_box["x"] + exit_box["width"] <= brand["x"], (exit_box, brand)
        assert menu["x"] + menu["width"] <= exit_box["x"] + 1, (menu, exit_box)
        # Text starts at the right: the heading's right edge is the content's right edge.
        heading = page.locator("main h1").bounding_box()
        main = page.evaluate(
            "(() => { const m = document.querySelector('main'); const s = getComputedStyle(m);"
            " const r = m.getBoundingClientRect();"
            " return r.right - parseFloat(s.paddingRight); })()"
        )
        assert abs(heading["x"] + heading["width"] - main) < 2, (heading, main)
        list_item = page.locator("main ol li").first
        assert list_item.evaluate("li => getComputedStyle(li).direction") == "rtl"
        portal.shot(f"{code}-rtl-home")

        # The language menu opens towards the inside of the screen and stays on it.
        page.locator(".language-toggle").click()
        panel = page.locator(".language-panel").bounding_box()
        assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width, panel
        portal.shot(f"{code}-rtl-language-menu")
        page.locator(".language-toggle").click()

        # Error marks sit on the start side (the right): logical properties, not left/right.
        portal.go("/start/")
        page.locator("main form button[type=submit]").click()
        field = page.locator(".has-error").first
        expect(field).to_be_visible()
        # expect() retries: under load the stylesheet may apply a moment after the page.
        expect(field).to_have_css("border-right-width", "4px")
        expect(field).to_have_css("border-left-width", "0px")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        portal.shot(f"{code}-rtl-start-errors")

        # A case number stays left to right inside right-to-left text.
        portal.go("/case/")
        page.locator("input[name=number]").fill("AB12-CD34")
        page.locator("input[name=pin]").fill("00000000")
        page.locator("main form button[type=submit]").click()
        expect(page.locator("#login-error, .field-error").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        portal.shot(f"{code}-rtl-login-error")


@pytest.mark.django_db(transaction=True)
def test_the_header_language_menu_changes_the_language_and_remembers_it(
    chromium, live_server, artifacts_dir, request
) -> None:
    for portal in _page(chromium, live_server, artifacts_dir, request, PHONE, locale="en-GB"):
        page = portal.page
        portal.go("/start/")
        toggle = page.get_by_label("Language")
        box = toggle.bounding_box()
        # In the header, big enough to tap (not a 71x19 px select in the footer).
        assert box["y"] < 120 and box["width"] >= 44 and box["height"] >= 44, box
        toggle.click()
        options = page.locator(".language-option")
        expect(options).to_have_count(len(LANGUAGES))
        for i in range(len(LANGUAGES)):
            option = options.nth(i).bounding_box()
            assert option["height"] >= 44, option
        expect(page.get_by_role("button", name="English")).to_have_attribute("aria-current", "true")
        portal.shot("language-menu-open")
        page.get_by_role("button", name="Polski").click()
        page.wait_for_url("**/start/")  # back on the same page, now in Polish
        expect(page.locator("html")).to_have_attribute("lang", "pl")
        expect(page.get_by_label(re.compile("^Język"))).to_be_visible()
        # Remembered from page to page, and over the browser's English.
        portal.go("/case/")
        expect(page.locator("html")).to_have_attribute("lang", "pl")
        page.reload()
        expect(page.locator("h1")).to_have_text(_translated("pl", "Check your case"))
        # Kept in the session: no cookie of its own.
        assert {c["name"] for c in page.context.cookies()} <= {"sessionid", "csrftoken"}
        # Works without JavaScript too: the menu is a disclosure and a plain form.
        page.get_by_label(re.compile("^Język")).click()
        page.get_by_role("button", name="العربية").click()
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        portal.shot("language-chosen-arabic")


def test_the_language_menu_works_without_javascript(
    chromium, live_server, artifacts_dir, request
) -> None:
    for portal in common._portal_page(
        chromium, live_server, artifacts_dir, request, DESKTOP, js=False
    ):
        page = portal.page
        portal.go("/case/")
        page.get_by_label("Language").click()
        page.get_by_role("button", name="Cymraeg").click()
        page.wait_for_url("**/case/")
        expect(page.locator("html")).to_have_attribute("lang", "cy")
        portal.shot("language-menu-no-js")


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("pt-BR,pt;q=0.9", "pt"),
        ("cy-GB,cy;q=0.9,en;q=0.8", "cy"),
        ("de-DE,de;q=0.9,ro;q=0.8", "ro"),  # German isn't offered: the next choice is
        ("de-DE", "en"),
        ("ur-PK", "ur"),
    ],
)
def test_the_browsers_accept_language_is_honoured(
    accept_language, expected, chromium, live_server, artifacts_dir, request
) -> None:
    for portal in _page(
        chromium,
        live_server,
        artifacts_dir,
        request,
        PHONE,
        extra_http_headers={"Accept-Language": accept_language},
    ):
        page = portal.page
        portal.go("/")
        expect(page.locator("html")).to_have_attribute("lang", expected)
        expect(page.locator("#quick-exit")).to_contain_text(_translated(expected, "Quick exit"))
