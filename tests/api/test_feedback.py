"""POST /api/v1/feedback and /api/v1/acknowledge: privacy, corroboration, provable removal."""

import pytest
from django.urls import reverse

from portal.cases import services as case_services
from portal.platforms.models import HashFeedback, Platform
from portal.platforms.selectors import case_distribution
from tests.support.factories import case_with_items
from tests.support.platforms import assert_error, platform_client

pytestmark = pytest.mark.django_db

FEEDBACK = reverse("v1:hash-feedback")
ACK = reverse("v1:feed-acknowledge")
FEED = reverse("v1:hash-feed")


def report(client, items):
    response = client.post(FEEDBACK, {"feedback": items}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_feedback_is_recorded_and_the_victim_sees_counts(acme, other):
    case = case_with_items(1).case
    pdq = case.hashes.get(algorithm="pdq")
    results = report(acme.client, [{"algorithm": "pdq", "value": pdq.value, "outcome": "blocked"}])
    assert results == [
        {"algorithm": "pdq", "value": pdq.value, "outcome": "blocked", "status": "recorded"}
    ]
    report(other.client, [{"algorithm": "pdq", "value": pdq.value, "outcome": "not_violating"}])
    assert case_distribution(case=case).feedback["blocked"] == 1
    assert case_distribution(case=case).feedback["not_violating"] == 1


def test_the_latest_report_wins(acme):
    pdq = case_with_items(1).case.hashes.get(algorithm="pdq")
    for outcome in ("matched_pending_review", "blocked"):
        report(acme.client, [{"algorithm": "pdq", "value": pdq.value, "outcome": outcome}])
    assert list(HashFeedback.objects.values_list("outcome", flat=True)) == ["blocked"]


def test_platforms_see_only_counts_of_each_others_feedback(acme, other):
    case = case_with_items(1).case
    md5 = case.hashes.get(algorithm="md5")
    report(other.client, [{"algorithm": "md5", "value": md5.value, "outcome": "blocked"}])
    response = acme.client.get(FEED, {"algorithm": "md5"})
    entry = next(e for e in response.json()["entries"] if e["value"] == md5.value)
    assert entry["feedback"] == {"blocked": 1, "not_violating": 0, "matched_pending_review": 0}
    assert b"Other" not in response.content and other.key.encode() not in response.content


def test_a_case_id_narrows_the_report_to_one_case(acme):
    shared = {"pdq": "a" * 16 + "5" * 48}
    from portal.cases.services import SubmittedItem

    first = case_services.case_create(items=[SubmittedItem(media_kind="image", hashes=shared)])
    case_services.case_create(items=[SubmittedItem(media_kind="image", hashes=shared)])
    entries = acme.client.get(FEED).json()["entries"]
    first_id = next(
        e["case_id"]
        for e in entries
        if e["value"] == shared["pdq"] and e["seq"] == first.case.hashes.get().feed_seq
    )
    result = report(
        acme.client,
        [{"algorithm": "pdq", "value": shared["pdq"], "outcome": "blocked", "case_id": first_id}],
    )
    assert result[0]["status"] == "recorded"
    assert list(HashFeedback.objects.values_list("submitted_hash__case", flat=True)) == [
        first.case.pk
    ]
    unnarrowed = report(
        acme.client, [{"algorithm": "pdq", "value": shared["pdq"], "outcome": "blocked"}]
    )
    assert unnarrowed[0]["status"] == "recorded" and HashFeedback.objects.count() == 2


def test_unknown_hashes_are_reported_back_and_nothing_is_stored(acme):
    results = report(
        acme.client, [{"algorithm": "sha256", "value": "0" * 64, "outcome": "blocked"}]
    )
    assert results[0]["status"] == "unknown_hash"
    assert HashFeedback.objects.count() == 0


@pytest.mark.parametrize(
    ("item", "field", "code"),
    [
        (
            {"algorithm": "pdq", "value": "0" * 64, "outcome": "deleted"},
            "outcome",
            "invalid_choice",
        ),
        ({"algorithm": "pdq", "value": "0" * 63, "outcome": "blocked"}, "value", "bad_hash"),
        (
            {"algorithm": "crc", "value": "0" * 8, "outcome": "blocked"},
            "algorithm",
            "invalid_choice",
        ),
        ({"algorithm": "md5", "value": "z" * 32, "outcome": "blocked"}, "value", "bad_hash"),
    ],
)
def test_bad_reports_are_400_and_nothing_is_stored(acme, item, field, code):
    case_with_items(1)
    good = {"algorithm": "pdq", "value": "0" * 64, "outcome": "blocked"}
    response = acme.client.post(FEEDBACK, {"feedback": [good, item]}, format="json")
    body = assert_error(response, 400, "validation_error")
    assert body["details"]["feedback"]["1"][field][0]["code"] == code
    assert HashFeedback.objects.count() == 0


def test_an_oversize_feedback_batch_is_refused(acme):
    item = {"algorithm": "pdq", "value": "0" * 64, "outcome": "blocked"}
    response = acme.client.post(FEEDBACK, {"feedback": [item] * 1001}, format="json")
    assert_error(response, 400, "batch_too_large")


def test_feedback_needs_its_scope(db):
    reader = platform_client("Reader", scopes=["feed:read"])
    item = {"algorithm": "pdq", "value": "0" * 64, "outcome": "blocked"}
    assert_error(
        reader.client.post(FEEDBACK, {"feedback": [item]}, format="json"), 403, "insufficient_scope"
    )


def test_acknowledging_removals_counts_the_platform_as_having_removed(acme, other):
    case = case_with_items(1).case
    case_services.case_withdraw(case=case)
    # Acme follows to the end, applies the removals and acknowledges its cursor.
    page = acme.client.get(FEED, {"cursor": _start_cursor(acme)}).json()
    assert any(e["op"] == "remove" for e in page["entries"])
    response = acme.client.post(ACK, {"cursor": page["cursor"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["applied_seq"] == page["position"]
    # Other fetched (so it takes part: it counts in "of M") but never acknowledged: it lags.
    other.client.get(FEED)
    summary = case_distribution(case=case)
    assert (summary.platforms_total, summary.platforms_removed) == (2, 1)
    assert case_distribution(case=case).platforms_removed == 1


def _start_cursor(pc):
    from api.cursors import cursor_encode
    from portal.platforms.feed import FeedFilters

    return cursor_encode(position=0, filters=FeedFilters())


def test_acknowledgement_never_goes_back_and_accepts_positions(acme):
    case_with_items(1)
    head = acme.client.get(FEED).json()["position"]
    assert acme.client.post(ACK, {"position": head}, format="json").json()["applied_seq"] == head
    again = acme.client.post(ACK, {"position": 1}, format="json")
    assert again.status_code == 200 and again.json()["applied_seq"] == head


def test_acknowledging_what_was_never_sent_is_refused(acme):
    case_with_items(1)
    body = assert_error(
        acme.client.post(ACK, {"position": 3}, format="json"), 400, "position_ahead"
    )
    assert body["details"] == {"fetched_seq": 0}
    assert Platform.objects.get(pk=acme.platform.pk).applied_seq == 0


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({}, 400, "validation_error"),
        ({"cursor": "nonsense"}, 400, "bad_cursor"),
        ({"position": -1}, 400, "validation_error"),
        ({"position": "x"}, 400, "validation_error"),
        ({"position": 0, "cursor": "x"}, 400, "validation_error"),
    ],
)
def test_bad_acknowledgements_are_refused(acme, payload, status, code):
    assert_error(acme.client.post(ACK, payload, format="json"), status, code)
    assert Platform.objects.get(pk=acme.platform.pk).applied_at is None
