"""Quotas on what enters the list: files per case, files per case an hour, a global rate;
refused submissions spend nothing, and every refusal says what to do."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings

from portal.cases import services
from portal.cases.models import SubmittedHash
from portal.exceptions import ApplicationError
from tests.support.factories import SubmittedItemFactory, case_with_items

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _add(case, count: int):
    return services.hashes_add(case=case, items=SubmittedItemFactory.build_batch(count))


def test_files_per_submission_are_capped():
    with pytest.raises(ApplicationError) as raised:
        services.case_create(
            items=SubmittedItemFactory.build_batch(services.MAX_ITEMS_PER_SUBMISSION + 1)
        )
    assert raised.value.code == "bad_count"
    assert not SubmittedHash.objects.exists()


@override_settings(TAKEBACK_CASE_MAX_FILES=5)
def test_a_case_holds_at_most_the_configured_number_of_files():
    case = case_with_items(3).case
    with pytest.raises(ApplicationError) as raised:
        _add(case, 3)
    assert raised.value.code == "limit_reached"
    assert "room for 2 more" in str(raised.value.message)
    assert case.hashes.values("item_id").distinct().count() == 3
    _add(case, 2)  # exactly up to the cap
    assert case.hashes.values("item_id").distinct().count() == 5


@override_settings(TAKEBACK_CASE_FILES_PER_HOUR=4)
def test_files_added_to_a_case_an_hour_are_capped_and_10000_hashes_in_a_burst_are_refused():
    case = case_with_items(2).case
    _add(case, 2)
    with pytest.raises(ApplicationError) as raised:
        _add(case, 1)
    assert raised.value.code == "limit_reached"
    assert "try again later" in str(raised.value.message)
    assert case.hashes.count() == 4 * 4


@override_settings(TAKEBACK_CASE_FILES_PER_HOUR=4)
def test_refused_attempts_do_not_use_up_the_quota():
    case = case_with_items(1).case
    bad = services.SubmittedItem(media_kind="image", hashes={"pdq": "0" * 64})
    for _ in range(10):
        with pytest.raises(ApplicationError):
            services.hashes_add(case=case, items=[*SubmittedItemFactory.build_batch(2), bad])
    _add(case, 3)  # 1 + 3 = 4: every refused attempt left the quota untouched
    assert case.hashes.values("item_id").distinct().count() == 4


@override_settings(TAKEBACK_GLOBAL_FILES_PER_HOUR=6)
def test_a_global_rate_caps_files_from_everyone():
    case_with_items(3)
    case_with_items(3)
    with pytest.raises(ApplicationError) as raised:
        case_with_items(1)
    assert raised.value.code == "limit_reached"
    assert "unusual number" in str(raised.value.message)
    assert SubmittedHash.objects.values("item_id").distinct().count() == 6
