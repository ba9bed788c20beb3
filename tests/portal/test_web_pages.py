"""The portal's pages through Django's test client: headers, cookies, submit, status, withdraw."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from portal.cases.models import Case, Organisation, SubmittedHash
from tests.support.factories import CaseFactory, SubmittedItemFactory, case_with_items
from tests.support.staff import verified_login

pytestmark = pytest.mark.django_db

PAGES = ["web:home", "web:start", "web:status_login", "web:recover", "web:org_login"]


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def eligible(client: Client) -> Client:
    response = client.post(
        reverse("web:start"), {"age": "adult", "subject": "synthetic", "consent": "on"}
    )
    assert response.status_code == 302
    return client


def _payload(count: int = 2, **extra) -> dict:
    items = [
        {"media_kind": i.media_kind, "hashes": i.hashes, "pdq_quality": i.pdq_quality}
        for i in SubmittedItemFactory.build_batch(count)
    ]
    return {"items": items, **extra}


def _post_json(client: Client, name: str, body: dict):
    return client.post(reverse(name), json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("name", PAGES)
def test_pages_carry_a_strict_csp_and_no_inline_script_or_style(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self' 'wasm-unsafe-eval'" in csp
    assert "unsafe-inline" not in csp
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "<style" not in html and " style=" not in html
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers


def test_only_session_and_csrf_cookies_are_ever_set(client, eligible):
    response = _post_json(client, "web:submit_hashes", _payload())
    created = response.json()
    client.post(reverse("web:status_login"), {"number": created["case_number"], "pin": "1"})
    client.post(reverse("web:language"), {"language": "es", "next": "/"})
    assert set(client.cookies) <= {"sessionid", "csrftoken"}


def test_eligibility_is_required_before_hashes_are_accepted(client):
    assert client.get(reverse("web:submit")).url == reverse("web:start")
    response = _post_json(client, "web:submit_hashes", _payload())
    assert response.status_code == 403
    assert not Case.objects.exists()


def test_under_18_and_other_people_are_pointed_elsewhere(client):
    response = client.post(
        reverse("web:start"), {"age": "minor", "subject": "pictured", "consent": "on"}
    )
    assert b"takeitdown.ncmec.org" in response.content and "tb_subject" not in client.session
    response = client.post(
        reverse("web:start"), {"age": "adult", "subject": "other", "consent": "on"}
    )
    assert b"someone else" in response.content and "tb_subject" not in client.session


def test_submitting_hashes_creates_a_case_with_only_the_hashes(client, eligible):
    body = _payload(3, recovery_code=True)
    body["items"][0]["file_name"] = "my-secret-photo.jpg"  # ignored: never stored
    body["items"][0]["hashes"]["exif"] = "GPS 51.5N"
    response = _post_json(client, "web:submit_hashes", body)
    assert response.status_code == 201
    data = response.json()
    assert set(data) == {"case_number", "pin", "recovery_code", "expires_on", "status_url"}
    case = Case.objects.get(number=data["case_number"])
    assert case.subject == Case.Subject.SYNTHETIC and case.organisation is None
    assert case.hashes.count() == 3 * 4
    stored = json.dumps(list(SubmittedHash.objects.values()), default=str)
    assert "my-secret-photo" not in stored and "GPS" not in stored


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"items": []},
        {"items": [{"media_kind": "image", "hashes": {"pdq": "0" * 63}}]},
        {"items": [{"media_kind": "image", "hashes": {"md5": "0" * 32}, "pdq_quality": "90"}]},
        {"items": [{"media_kind": "audio", "hashes": {"md5": "0" * 32}}]},
    ],
)
def test_malformed_submissions_get_a_clear_error_and_store_nothing(client, eligible, body):
    response = _post_json(client, "web:submit_hashes", body)
    assert response.status_code == 400 and response.json()["error"]
    assert not Case.objects.exists()


def test_a_body_that_is_not_json_is_refused(client, eligible):
    response = client.post(
        reverse("web:submit_hashes"), b"\xff\x00", content_type="application/json"
    )
    assert response.status_code == 400
    assert not Case.objects.exists()


def _login(client: Client, number: str, pin: str):
    return client.post(reverse("web:status_login"), {"number": number, "pin": pin})


def test_status_page_shows_counts_and_files_after_pin_login(client):
    created = case_with_items(2)
    assert client.get(reverse("web:status")).url == reverse("web:status_login")
    response = _login(client, created.case.number, created.pin)
    assert response.url == reverse("web:status")
    page = client.get(reverse("web:status")).content.decode()
    assert created.case.number in page
    assert page.count('class="case-item"') == 2
    assert created.pin not in page


@override_settings(TAKEBACK_PIN_MAX_FAILURES_PER_CASE=3)
def test_wrong_pins_lock_the_case_with_a_kind_message_even_for_the_right_pin(client):
    created = case_with_items(1)
    wrong = "0" * 8 if created.pin != "0" * 8 else "1" * 8
    for _ in range(2):
        response = _login(client, created.case.number, wrong)
        assert b"don&#x27;t match" in response.content
    response = _login(client, created.case.number, wrong)
    assert b"For your safety" in response.content and b"your case is safe" in response.content
    response = _login(client, created.case.number, created.pin)
    assert response.status_code == 200 and b"For your safety" in response.content
    cache.clear()  # the window has passed
    assert _login(client, created.case.number, created.pin).url == reverse("web:status")


def test_withdrawing_one_file_then_the_case(client):
    created = case_with_items(2)
    _login(client, created.case.number, created.pin)
    item_id = created.case.hashes.first().item_id
    url = reverse("web:item_withdraw", args=[item_id])
    assert b"Withdraw one file?" in client.get(url).content  # confirmation first
    assert created.case.hashes.filter(status="active").count() == 8
    client.post(url)
    assert set(created.case.hashes.filter(item_id=item_id).values_list("status", flat=True)) == {
        "withdrawn"
    }
    client.post(reverse("web:case_withdraw"))
    created.case.refresh_from_db()
    assert created.case.status == Case.Status.WITHDRAWN
    assert not created.case.hashes.filter(status="active").exists()


def test_a_file_of_another_case_cannot_be_withdrawn(client):
    mine, theirs = case_with_items(1), case_with_items(1)
    _login(client, mine.case.number, mine.pin)
    other_item = theirs.case.hashes.first().item_id
    client.post(reverse("web:item_withdraw", args=[other_item]))
    assert not theirs.case.hashes.exclude(status="active").exists()


def test_adding_hashes_to_an_open_case(client):
    created = case_with_items(1)
    _login(client, created.case.number, created.pin)
    response = _post_json(client, "web:status_hashes", _payload(1))
    assert response.status_code == 201 and response.json()["added"] == 4
    assert created.case.hashes.count() == 8


def test_recovery_gives_a_new_pin_once_and_ends_sessions_opened_with_the_old_one(client):
    created = CaseFactory(files=1, recoverable=True)
    _login(client, created.case.number, created.pin)
    other = Client()
    response = other.post(
        reverse("web:recover"),
        {"number": created.case.number, "recovery_code": created.recovery_code},
        follow=True,
    )
    page = response.content.decode()
    new_pin = re.search(r'id="secret-pin">(\d{8})<', page).group(1)
    assert new_pin != created.pin
    assert client.get(reverse("web:status")).url == reverse("web:status_login")
    assert _login(client, created.case.number, new_pin).url == reverse("web:status")


def test_caseworkers_submit_for_their_organisation_and_see_only_its_cases(client):
    user = get_user_model().objects.create_user("worker", password="a long passphrase 42")
    mine = Organisation.objects.create(name="Helpline", slug="helpline")
    theirs = Organisation.objects.create(name="Other", slug="other")
    mine.members.add(user)
    other_case = case_with_items(1, organisation=theirs)
    verified_login(client, user)  # password and second factor (test_charities_two_factor.py)
    client.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    refused = _post_json(client, "web:submit_hashes", _payload(1, organisation="other"))
    assert refused.status_code == 400
    response = _post_json(client, "web:submit_hashes", _payload(1, organisation="helpline"))
    case = Case.objects.get(number=response.json()["case_number"])
    assert case.organisation == mine
    page = client.get(reverse("web:org_cases")).content.decode()
    assert case.number in page and other_case.case.number not in page
    assert "<img" not in page


def test_caseworker_list_needs_a_signed_in_user(client):
    response = client.get(reverse("web:org_cases"))
    assert response.status_code == 302 and response.url.startswith(reverse("web:org_login"))


def test_spanish_is_available_and_chosen_without_a_language_cookie(client):
    client.post(reverse("web:language"), {"language": "es", "next": "/"})
    page = client.get(reverse("web:home")).content.decode()
    assert '<html lang="es">' in page
    assert "Salida rápida" in page and "Evita que se compartan imágenes íntimas" in page
    assert "django_language" not in client.cookies


@override_settings(TAKEBACK_PIN_MAX_FAILURES_PER_CASE=2)
def test_caseworker_password_guessing_is_throttled(client):
    get_user_model().objects.create_user("worker", password="a long passphrase 42")
    for _ in range(2):
        client.post(reverse("web:org_login"), {"username": "worker", "password": "guess"})
    response = client.post(
        reverse("web:org_login"), {"username": "worker", "password": "a long passphrase 42"}
    )
    assert b"For your safety" in response.content
    assert "_auth_user_id" not in client.session


def test_read_only_pages_answer_head_requests_for_monitors(client):
    response = client.head(reverse("web:home"))
    assert response.status_code == 200 and response.content == b""
    # Pages that need the eligibility answers redirect, as GET does, rather than 405.
    assert client.head(reverse("web:submit")).status_code == 302


def test_the_victim_can_unlink_their_case_from_the_organisation(client):
    helping = Organisation.objects.create(name="Helpline", slug="helpline")
    created = case_with_items(1, organisation=helping)
    _login(client, created.case.number, created.pin)
    page = client.get(reverse("web:status")).content.decode()
    assert "Helpline" in page and reverse("web:case_unlink") in page
    response = client.post(reverse("web:case_unlink"))
    assert response.url == reverse("web:status")
    created.case.refresh_from_db()
    assert created.case.organisation is None
    page = client.get(reverse("web:status")).content.decode()
    assert "no longer sees this case" in page and reverse("web:case_unlink") not in page
    # Only the case's own session can do it, and only by POST.
    assert Client().post(reverse("web:case_unlink")).url == reverse("web:status_login")
    assert client.get(reverse("web:case_unlink")).status_code == 405
