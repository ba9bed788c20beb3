"""Server-side hashing through Django's test client: consent, errors, size cap, add to a case."""

import io
import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from PIL import Image

import hashing
from portal.cases.models import Case
from tests.support.factories import case_with_items, random_png

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


def _file(data: bytes, name: str = "private.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def test_upload_needs_eligibility_first(client):
    assert client.get(reverse("web:upload")).url == reverse("web:start")


def test_consent_is_required_and_nothing_is_hashed_without_it(client, eligible):
    response = client.post(reverse("web:upload"), {"files": _file(random_png(1))})
    assert b"Please tick this box" in response.content
    assert not Case.objects.exists()


def test_uploaded_files_give_the_same_hashes_as_the_library(client, eligible):
    data = [random_png(2), random_png(3)]
    response = client.post(
        reverse("web:upload"),
        {"files": [_file(d) for d in data], "consent": "on", "recovery": "on"},
        follow=True,
    )
    # POST/redirect/GET: the secrets are shown by a GET, so a reload makes no second case.
    assert response.redirect_chain == [(reverse("web:created"), 302)]
    assert response.status_code == 200 and b'id="secret-pin"' in response.content
    assert b'id="secret-pin"' in client.get(reverse("web:created")).content
    assert Case.objects.count() == 1
    case = Case.objects.get()
    assert case.recovery_code_hash
    for d in data:
        record = hashing.hash_bytes(d)
        assert case.hashes.filter(algorithm="pdq", value=record["pdq"]).exists()
        assert case.hashes.filter(algorithm="sha256", value=record["sha256"]).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (random_png(7)[:400], b"damaged"),
        (b"just some text, not an image", b"not a photo or video format"),
    ],
    ids=["truncated-png", "text"],
)
def test_a_bad_file_gets_a_clear_message_and_nothing_is_stored(client, eligible, data, message):
    response = client.post(
        reverse("web:upload"), {"files": [_file(random_png(4)), _file(data)], "consent": "on"}
    )
    # The bad file is named, the good one kept (as hashes) for the next try.
    assert b"private.png:" in response.content and message in response.content
    assert b'name="kept"' in response.content
    assert not Case.objects.exists()


@override_settings(TAKEBACK_MAX_UPLOAD_BYTES=20_000, FILE_UPLOAD_MAX_MEMORY_SIZE=20_000)
def test_an_upload_over_the_cap_is_refused_unread(client, eligible):
    big = random_png(5) * 3
    assert len(big) > 20_000
    response = client.post(reverse("web:upload"), {"files": _file(big), "consent": "on"})
    assert b"too large" in response.content
    assert not Case.objects.exists()


def test_images_can_be_added_to_an_open_case_on_the_server(client):
    created = case_with_items(1)
    client.post(reverse("web:status_login"), {"number": created.case.number, "pin": created.pin})
    response = client.post(
        reverse("web:status_upload"), {"files": _file(random_png(6)), "consent": "on"}
    )
    assert response.url == reverse("web:status")
    assert created.case.hashes.count() == 4 + 5


def test_a_flat_picture_keeps_only_its_digests_and_the_person_is_told(client, eligible):
    buf = io.BytesIO()
    Image.new("RGB", (200, 150), (90, 120, 150)).save(buf, "PNG")
    response = client.post(
        reverse("web:upload"),
        {"files": [_file(random_png(8)), _file(buf.getvalue())], "consent": "on"},
        follow=True,
    )
    assert b"File 2 has very little detail" in response.content
    case = Case.objects.get()
    assert case.hashes.count() == 5 + 2


def test_the_good_files_are_kept_and_sent_on_without_choosing_them_again(client, eligible):
    good = random_png(9)
    response = client.post(
        reverse("web:upload"),
        {"files": [_file(good, "good.png"), _file(b"not an image", "bad.png")], "consent": "on"},
    )
    assert b"bad.png:" in response.content and b"good.png" in response.content
    kept = re.search(rb'name="kept" value="([^"]+)"', response.content).group(1).decode()
    assert not Case.objects.exists()
    response = client.post(reverse("web:upload"), {"kept": kept, "consent": "on"})
    assert response.url == reverse("web:created")
    case = Case.objects.get()
    assert case.hashes.filter(algorithm="sha256", value=hashing.hash_bytes(good)["sha256"]).exists()


def test_a_tampered_kept_value_is_refused(client, eligible):
    response = client.post(reverse("web:upload"), {"kept": "forged:value", "consent": "on"})
    assert b"Please choose your photos again." in response.content
    assert not Case.objects.exists()


def test_one_file_is_hashed_for_the_page_only_with_consent_and_eligibility(client):
    assert client.post(reverse("web:hash_one"), {"file": _file(random_png(10))}).status_code == 403
    client.post(reverse("web:start"), {"age": "adult", "subject": "pictured", "consent": "on"})
    refused = client.post(reverse("web:hash_one"), {"file": _file(random_png(10))})
    assert refused.status_code == 400
    data = random_png(10)
    response = client.post(reverse("web:hash_one"), {"file": _file(data), "consent": "on"})
    record = hashing.hash_bytes(data)
    item = response.json()["item"]
    assert item["media_kind"] == "image" and item["hashes"]["sha256"] == record["sha256"]
    assert not Case.objects.exists()  # only hashes come back; nothing is stored


def test_the_server_result_is_shown_by_a_get_and_forgotten_when_the_case_opens(client, eligible):
    client.post(reverse("web:upload"), {"files": _file(random_png(11)), "consent": "on"})
    assert b'id="secret-pin"' in client.get(reverse("web:created")).content
    assert client.get(reverse("web:status")).status_code == 200  # signed in, no retyping
    assert client.get(reverse("web:created")).url == reverse("web:status")


def test_quick_exit_ends_the_session(client, eligible):
    client.post(reverse("web:upload"), {"files": _file(random_png(12)), "consent": "on"})
    response = client.get(reverse("web:quick_exit"))
    assert response.status_code == 302 and response.url.startswith("https://")
    assert client.get(reverse("web:status")).url == reverse("web:status_login")
    assert client.get(reverse("web:upload")).url == reverse("web:start")


def test_the_secrets_kept_for_the_result_page_are_sealed_in_the_session_store(client, eligible):
    from django.contrib.sessions.models import Session

    client.post(
        reverse("web:upload"), {"files": _file(random_png(13)), "consent": "on", "recovery": "on"}
    )
    page = client.get(reverse("web:created")).content.decode()
    pin = re.search(r'id="secret-pin"[^>]*>\s*([0-9]{8})', page).group(1)
    stored = [session.get_decoded() for session in Session.objects.all()]
    # A dump of the session table alone doesn't give the PIN or the recovery code.
    assert stored and pin not in repr(stored)
    assert not re.search(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}", repr(stored))
