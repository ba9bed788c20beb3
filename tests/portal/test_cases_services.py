"""Services on cases: creation, feed positions, withdrawal, expiry."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.test import override_settings
from django.utils import timezone

from portal.cases import services
from portal.cases.models import Case, SubmittedHash
from portal.cases.positions import feed_head
from portal.exceptions import ApplicationError
from tests.support.factories import SubmittedItemFactory, case_with_items

pytestmark = pytest.mark.django_db


def test_case_number_has_80_random_bits_in_readable_groups():
    numbers = {services.case_number_generate() for _ in range(2000)}
    assert len(numbers) == 2000
    for number in numbers:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", number)


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"])
def test_pin_is_stored_only_as_an_argon2_hash():
    created = case_with_items(with_recovery_code=True)
    case = Case.objects.get(pk=created.case.pk)
    assert case.pin_hash.startswith("argon2$")
    assert created.pin not in case.pin_hash
    assert check_password(created.pin, case.pin_hash)
    assert check_password(created.recovery_code, case.recovery_code_hash)
    assert not check_password("00000000", case.pin_hash)


def test_each_hash_takes_the_next_feed_position():
    before = feed_head()
    created = case_with_items(3)
    seqs = list(created.case.hashes.order_by("feed_seq").values_list("feed_seq", flat=True))
    assert seqs == list(range(before + 1, before + 1 + 12))
    assert feed_head() == before + 12


def test_withdrawing_a_case_moves_its_hashes_to_new_feed_positions_as_removals():
    created = case_with_items(2)
    high_water = feed_head()
    removed = services.case_withdraw(case=created.case)
    assert removed == 8
    case = Case.objects.get(pk=created.case.pk)
    assert case.status == Case.Status.WITHDRAWN and case.withdrawn_at is not None
    for row in case.hashes.all():
        assert row.status == SubmittedHash.Status.WITHDRAWN
        assert row.feed_seq > high_water
    assert services.case_withdraw(case=case) == 0  # idempotent


def test_withdrawing_one_image_leaves_the_others_active():
    created = case_with_items(2)
    item_id = created.case.hashes.first().item_id
    assert services.item_withdraw(case=created.case, item_id=item_id) == 4
    statuses = dict(created.case.hashes.values_list("item_id", "status").distinct())
    assert statuses[item_id] == SubmittedHash.Status.WITHDRAWN
    assert SubmittedHash.Status.ACTIVE in statuses.values()


def test_closed_case_accepts_no_more_hashes():
    created = case_with_items(1)
    services.case_withdraw(case=created.case)
    with pytest.raises(ApplicationError) as error:
        services.hashes_add(case=created.case, items=SubmittedItemFactory.build_batch(1))
    assert error.value.code == "case_closed"


@pytest.mark.parametrize(
    ("hashes", "code"),
    [
        ({"pdq": "F" * 64}, "bad_hash"),  # upper case is not the wire form
        ({"pdq": "f" * 63}, "bad_hash"),
        ({"phash": "g" * 16}, "bad_hash"),
        ({"crc32": "00000000"}, "bad_algorithm"),
        ({}, "no_hashes"),
    ],
)
def test_malformed_hashes_are_refused_and_nothing_is_stored(hashes, code):
    before = (Case.objects.count(), SubmittedHash.objects.count(), feed_head())
    item = services.SubmittedItem(media_kind="image", hashes=hashes)
    with pytest.raises(ApplicationError) as error:
        services.case_create(items=[item])
    assert error.value.code == code
    assert (Case.objects.count(), SubmittedHash.objects.count(), feed_head()) == before


def test_expired_cases_leave_the_feed():
    created = case_with_items(1)
    Case.objects.filter(pk=created.case.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert services.cases_expire() == 4
    assert set(created.case.hashes.values_list("status", flat=True)) == {"expired"}


def test_quarantine_takes_hashes_out_of_the_feed():
    created = case_with_items(1)
    assert services.hashes_quarantine(hashes=list(created.case.hashes.all())) == 4
    assert set(created.case.hashes.values_list("status", flat=True)) == {"quarantined"}
