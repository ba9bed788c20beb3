"""What a case's status page learns about platforms."""

import pytest

from portal.cases import services as case_services
from portal.platforms.models import HashFeedback, Platform
from portal.platforms.selectors import case_distribution
from portal.platforms.services import platform_create
from tests.support.factories import case_with_items

pytestmark = pytest.mark.django_db


def test_counts_platforms_that_received_and_then_removed_a_case():
    fast = platform_create(name="Fast").platform
    slow = platform_create(name="Slow").platform
    case = case_with_items(2).case
    last = max(case.hashes.values_list("feed_seq", flat=True))

    # Both take part (they have fetched before); only the fast one has this case.
    Platform.objects.filter(pk=slow.pk).update(fetched_seq=1)
    Platform.objects.filter(pk=fast.pk).update(fetched_seq=last)
    summary = case_distribution(case=case)
    assert (summary.platforms_total, summary.platforms_received) == (2, 1)
    assert summary.hashes_active == 8

    case_services.case_withdraw(case=case)
    removal = max(case.hashes.values_list("feed_seq", flat=True))
    Platform.objects.filter(pk=fast.pk).update(fetched_seq=removal, applied_seq=removal)
    Platform.objects.filter(pk=slow.pk).update(fetched_seq=removal, applied_seq=removal - 1)
    summary = case_distribution(case=case)
    assert summary.platforms_removed == 1  # the slow one has not applied the last removal
    assert summary.hashes_active == 0 and summary.hashes_removed == 8


def test_platforms_that_never_fetched_or_hold_no_live_key_are_not_counted():
    case = case_with_items(1).case
    Platform.objects.create(name="Added in the admin", fetched_seq=5)  # no key
    platform_create(name="Registered, never fetched")
    assert case_distribution(case=case).platforms_total == 0


def test_feedback_is_counted_per_outcome():
    platform = platform_create(name="Reporter").platform
    case = case_with_items(1).case
    first, second = list(case.hashes.all()[:2])
    HashFeedback.objects.create(platform=platform, submitted_hash=first, outcome="blocked")
    HashFeedback.objects.create(platform=platform, submitted_hash=second, outcome="not_violating")
    assert case_distribution(case=case).feedback == {
        "blocked": 1,
        "not_violating": 1,
        "matched_pending_review": 0,
    }


def test_outcomes_are_counted_per_file_and_platform_not_per_hash_report():
    one = platform_create(name="One").platform
    two = platform_create(name="Two").platform
    case = case_with_items(2).case
    Platform.objects.update(fetched_seq=1)  # both take part: they have fetched
    first = case.hashes.order_by("pk").first().item_id
    # One upload found by MD5, SHA-256 and PDQ on one platform: one file, one platform.
    for row in case.hashes.filter(item_id=first):
        HashFeedback.objects.create(platform=one, submitted_hash=row, outcome="blocked")
    pdq = case.hashes.get(item_id=first, algorithm="pdq")
    HashFeedback.objects.create(platform=two, submitted_hash=pdq, outcome="not_violating")
    summary = case_distribution(case=case)
    assert summary.per_file == {
        first: {"blocked": 1, "not_violating": 1, "matched_pending_review": 0}
    }
    assert summary.outcome_files == {"blocked": 1, "not_violating": 1, "matched_pending_review": 0}
    assert summary.outcome_platforms["blocked"] == 1
    assert summary.disagreement
