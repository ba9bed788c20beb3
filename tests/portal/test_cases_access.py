"""Services and throttles that guard a case: numbers, PINs, recovery codes, lock-outs."""

import re

import pytest
from django.core.cache import cache
from django.test import override_settings

from portal.cases import services, throttling
from portal.cases.models import Case
from portal.exceptions import ApplicationError
from tests.support.factories import CaseFactory, SubmittedItemFactory, case_with_items

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


def test_typed_case_numbers_are_read_forgivingly():
    assert services.case_number_normalise(" k3m9 zq2a-7hfx-ob4c ") == "K3M9-ZQ2A-7HFX-0B4C"
    assert services.case_number_normalise("K3M9ZQ2A7HFX0B4L") == "K3M9-ZQ2A-7HFX-0B41"
    assert services.case_number_normalise("K3M9-ZQ2A-7HFX") is None
    assert services.case_number_normalise("K3M9-ZQ2A-7HFX-0B4U") is None  # U is not in the alphabet


def test_right_pin_opens_the_case_and_wrong_pin_or_number_does_not():
    created = case_with_items(1)
    number = created.case.number
    assert services.case_authenticate(number=number.lower(), pin=created.pin) == created.case
    wrong = "0" * 8 if created.pin != "0" * 8 else "1" * 8
    assert services.case_authenticate(number=number, pin=wrong) is None
    assert services.case_authenticate(number=number, pin="") is None
    assert services.case_authenticate(number="AAAA-AAAA-AAAA-AAAA", pin=created.pin) is None
    assert services.case_authenticate(number="nonsense", pin=created.pin) is None


def test_recovery_code_sets_a_new_pin_and_the_old_one_stops_working():
    created = CaseFactory(files=1, recoverable=True)
    number = created.case.number
    assert services.case_pin_reset(number=number, recovery_code="wrong") is None
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}", created.recovery_code)
    # Typed loosely (lower case, spaces, O for 0), the code still works.
    typed = created.recovery_code.lower().replace("-", " ").replace("0", "o")
    reset = services.case_pin_reset(number=number, recovery_code=typed)
    assert reset is not None and reset.pin != created.pin
    assert services.case_authenticate(number=number, pin=reset.pin) == created.case
    assert services.case_authenticate(number=number, pin=created.pin) is None


def test_a_case_without_recovery_code_cannot_be_reset():
    created = case_with_items(1)
    assert created.case.recovery_code_hash == ""
    assert services.case_pin_reset(number=created.case.number, recovery_code="") is None
    assert services.case_pin_reset(number=created.case.number, recovery_code="x") is None


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"])
def test_reset_pin_is_stored_with_argon2():
    created = CaseFactory(files=1, recoverable=True)
    reset = services.case_pin_reset(number=created.case.number, recovery_code=created.recovery_code)
    stored = Case.objects.get(pk=created.case.pk).pin_hash
    assert stored.startswith("argon2$") and reset.pin not in stored


def test_low_quality_pdq_is_refused_and_nothing_is_stored():
    item = SubmittedItemFactory.build(low_quality=True)
    with pytest.raises(ApplicationError) as error:
        services.case_create(items=[item])
    assert error.value.code == "low_quality"
    assert not Case.objects.exists()


def test_a_hashing_record_keeps_pdq_only_above_the_quality_floor():
    record = {
        "media": "image",
        "md5": "a" * 32,
        "sha256": "b" * 64,
        "pdq": "c" * 64,
        "pdq_quality": 90,
        "phash": "d" * 16,
        "dhash": "e" * 16,
    }
    good = services.item_from_record(record=record)
    assert set(good.hashes) == {"md5", "sha256", "pdq", "phash", "dhash"}
    assert good.pdq_quality == 90
    poor = services.item_from_record(record={**record, "pdq_quality": 10})
    assert poor.hashes == {"md5": "a" * 32, "sha256": "b" * 64} and poor.pdq_quality is None


@override_settings(TAKEBACK_PIN_MAX_FAILURES_PER_CASE=3, TAKEBACK_PIN_MAX_FAILURES_PER_CLIENT=5)
def test_failures_lock_the_case_then_the_client():
    client = throttling.client_key(ip="203.0.113.7")
    scope = {"action": "pin", "client": client}
    for _ in range(3):
        assert throttling.secret_lockout_check(number="AAAA-AAAA-AAAA-AAAA", **scope) is None
        throttling.secret_failure_record(number="AAAA-AAAA-AAAA-AAAA", **scope)
    locked = throttling.secret_lockout_check(number="aaaa aaaa aaaa aaaa", **scope)
    assert locked is not None and locked.scope == "case"
    # Another client is not locked out of that case: a stranger must not be able to lock
    # the owner out (issue 10, finding 4; the case's own budget is in test_lockout.py).
    other = throttling.client_key(ip="198.51.100.1")
    assert (
        throttling.secret_lockout_check(action="pin", number="AAAA-AAAA-AAAA-AAAA", client=other)
        is None
    )
    # The guessing client moves on to other cases and is stopped by its own count.
    throttling.secret_failure_record(number="BBBB-BBBB-BBBB-BBBB", **scope)
    throttling.secret_failure_record(number="CCCC-CCCC-CCCC-CCCC", **scope)
    locked = throttling.secret_lockout_check(number="DDDD-DDDD-DDDD-DDDD", **scope)
    assert locked is not None and locked.scope == "client"
    assert (
        throttling.secret_lockout_check(action="pin", number="DDDD-DDDD-DDDD-DDDD", client=other)
        is None
    )


def test_client_identifiers_are_keyed_hashes_not_addresses():
    key = throttling.client_key(ip="203.0.113.7")
    assert "203.0.113.7" not in key and len(key) == 32
    assert key == throttling.client_key(ip="203.0.113.7")
    assert key != throttling.client_key(ip="203.0.113.8")
