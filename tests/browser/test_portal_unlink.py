"""The victim stops sharing their case with a support organisation, in Chromium."""

from playwright.sync_api import expect

from portal.cases.models import Organisation
from tests.browser import test_portal_common as common
from tests.browser.test_portal_common import status_login
from tests.support.factories import case_with_items

portal_page = common.portal_page


def test_the_status_page_unlinks_the_organisation(portal_page, db) -> None:
    helpline = Organisation.objects.create(name="Helpline", slug="helpline")
    created = case_with_items(1, organisation=helpline)
    status_login(portal_page, created.case.number, created.pin)
    page = portal_page.page
    expect(page.locator("#organisation-heading")).to_be_visible()
    portal_page.shot("status-with-organisation")
    page.get_by_role("button", name="Stop sharing this case with Helpline").click()
    page.wait_for_url("**/case/status/")
    expect(page.get_by_text("Helpline no longer sees this case.")).to_be_visible()
    expect(page.locator("#organisation-heading")).to_have_count(0)
    portal_page.shot("status-unlinked")
    created.case.refresh_from_db()
    assert created.case.organisation is None
