"""PIN guessing in a real browser: after too many wrong PINs the case is locked, kindly."""

from __future__ import annotations

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from tests.browser import test_portal_common as common
from tests.browser.test_portal_common import status_login
from tests.support.factories import case_with_items

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

portal_page = common.portal_page


@override_settings(TAKEBACK_PIN_MAX_FAILURES_PER_CASE=3)
def test_wrong_pins_lock_the_case_and_even_the_right_pin_waits(portal_page) -> None:
    portal, page = portal_page, portal_page.page
    created = case_with_items(1)
    wrong = "0" * 8 if created.pin != "0" * 8 else "1" * 8
    for _ in range(2):
        status_login(portal, created.case.number, wrong)
        expect(page.get_by_role("alert")).to_contain_text("don't match")
    status_login(portal, created.case.number, wrong)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("For your safety")
    expect(alert).to_contain_text("your case is safe")
    portal.shot("locked")
    status_login(portal, created.case.number, created.pin)
    expect(page.get_by_role("alert")).to_contain_text("For your safety")
    assert page.url.endswith("/case/")
