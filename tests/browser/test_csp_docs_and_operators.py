"""Issue 10, finding 7: the API docs and the operators' admin carry a CSP, and still work.

Real Chromium on the live server: the policy is in the response, Swagger UI
renders the operations from the schema and the admin its pages, and the
browser reports no Content-Security-Policy violation (a console message) on
any of them.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support.staff import verified_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.violations = []  # type: ignore[attr-defined]

    def console(message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            page.violations.append(text)  # type: ignore[attr-defined]

    page.on("console", console)
    yield page
    context.close()


def _csp(response) -> str:
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp, csp
    assert "unsafe-eval" not in csp.replace("wasm-unsafe-eval", ""), csp
    return csp


def test_the_api_docs_render_under_a_strict_csp(page, live_server):
    response = page.goto(f"{live_server.url}/api/docs/")
    _csp(response)
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    page.wait_for_selector(".opblock-summary", timeout=20_000)  # operations from /api/schema/
    page.locator(".opblock-summary").first.click()  # expanding an operation works too
    page.wait_for_selector(".opblock-body", timeout=10_000)
    assert page.violations == []  # type: ignore[attr-defined]


def test_the_operators_admin_works_under_a_strict_csp(page, live_server, django_user_model):
    login = page.goto(f"{live_server.url}/operators/login/")
    _csp(login)
    operator = django_user_model.objects.create_superuser("operator", "op@example.org", "pw-9-xyz!")
    client = Client()
    verified_login(client, operator)  # operators sign in with a second factor too
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    for path in [
        "/operators/",
        "/operators/platforms/platform/",
        "/operators/onboarding/platform/",
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert page.url == f"{live_server.url}{path}", page.url  # not sent to sign-in
        _csp(response)
        page.wait_for_load_state("load")
    assert page.violations == []  # type: ignore[attr-defined]
