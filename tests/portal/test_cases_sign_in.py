"""The sign-in services: lock-out checked before the secret, failures counted, success clears."""

import io

import pytest
from PIL import Image

from portal.cases import server_hashing, sign_in, throttling
from tests.support.factories import CaseFactory, case_with_items

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    from django.core.cache import cache

    cache.clear()


def test_right_pin_signs_in_and_wrong_ones_lock_the_case_for_that_client(settings):
    settings.TAKEBACK_PIN_MAX_FAILURES_PER_CASE = 3
    created = case_with_items(1)
    client = throttling.client_key(ip="203.0.113.9")
    number = created.case.number
    assert sign_in.case_sign_in(number=number, pin=created.pin, client=client).case == created.case
    for attempt in range(3):
        result = sign_in.case_sign_in(number=number, pin="00000000", client=client)
        assert result.case is None
        assert (result.lockout is not None) == (attempt == 2)
    # Locked: even the right PIN is refused, before it is compared.
    locked = sign_in.case_sign_in(number=number, pin=created.pin, client=client)
    assert locked.case is None and locked.lockout is not None


def test_recovery_gives_a_new_pin_and_counts_failures(settings):
    created = CaseFactory(files=1, recoverable=True)
    client = throttling.client_key(ip="203.0.113.10")
    number = created.case.number
    wrong = sign_in.case_recover(number=number, recovery_code="nope", client=client)
    assert wrong.created is None and wrong.lockout is None
    right = sign_in.case_recover(number=number, recovery_code=created.recovery_code, client=client)
    assert right.created is not None and right.created.case == created.case
    assert sign_in.case_sign_in(number=number, pin=right.created.pin, client=client).case


def test_a_session_check_ends_with_a_pin_reset():
    created = CaseFactory(files=1, recoverable=True)
    check = sign_in.case_session_check(case=created.case)
    assert sign_in.case_session_valid(case=created.case, check=check)
    client = throttling.client_key(ip="203.0.113.11")
    sign_in.case_recover(
        number=created.case.number, recovery_code=created.recovery_code, client=client
    )
    created.case.refresh_from_db()
    assert not sign_in.case_session_valid(case=created.case, check=check)


def test_staff_failures_lock_that_username(settings):
    settings.TAKEBACK_PIN_MAX_FAILURES_PER_CASE = 2
    client = throttling.client_key(ip="203.0.113.12")
    for _ in range(2):
        assert sign_in.staff_sign_in_lockout(username="caseworker", client=client) is None
        sign_in.staff_sign_in_failed(username="caseworker", client=client)
    assert sign_in.staff_sign_in_lockout(username="caseworker", client=client) is not None
    assert sign_in.staff_sign_in_lockout(username="someone-else", client=client) is None


class _Upload(io.BytesIO):
    """What Django hands a view for an in-memory upload: read() and close()."""


def test_uploads_are_hashed_one_by_one_and_a_bad_file_does_not_stop_the_others():
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 90)).save(png, "PNG")
    uploads = [_Upload(png.getvalue()), _Upload(b"not an image"), _Upload(png.getvalue())]
    outcomes = server_hashing.uploads_hash(uploads)
    assert [o.number for o in outcomes] == [1, 2, 3]
    assert outcomes[0].item is not None and outcomes[0].item.hashes["md5"]
    assert outcomes[1].item is None and outcomes[1].error is not None
    assert outcomes[2].item == outcomes[0].item
    assert all(upload.closed for upload in uploads)
