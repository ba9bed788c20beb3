"""GET /api/v1/hashes/feed: order, paging, removals, filters, ETag, bad input."""

import pytest
from django.urls import reverse

from portal.cases import services as case_services
from portal.cases.models import SubmittedHash
from portal.platforms.models import Platform
from portal.platforms.selectors import case_distribution
from tests.support.factories import case_with_items
from tests.support.platforms import assert_error

pytestmark = pytest.mark.django_db

FEED = reverse("v1:hash-feed")


def follow(client, *, cursor=None, **params):
    """Follow the feed to its end; returns (entries, last cursor, pages)."""
    entries, pages = [], 0
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        response = client.get(FEED, query)
        assert response.status_code == 200, response.content
        body = response.json()
        entries += body["entries"]
        cursor = body["cursor"]
        pages += 1
        if not body["has_more"]:
            return entries, cursor, pages


def real(entries):
    """Entries of real hashes (drop this platform's decoys)."""
    values = set(SubmittedHash.objects.values_list("value", flat=True))
    return [e for e in entries if e["value"] in values]


def test_feed_serves_every_hash_once_in_order_across_pages(acme):
    cases = [case_with_items(3).case for _ in range(3)]
    entries, _, pages = follow(acme.client, limit=5)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert pages > 2
    expected = {(h.algorithm, h.value) for c in cases for h in c.hashes.all()}
    assert {(e["algorithm"], e["value"]) for e in real(entries)} == expected
    assert all(e["op"] == "add" and e["status"] == "active" for e in entries)


def test_withdrawal_is_served_as_a_removal_after_the_addition(acme):
    case = case_with_items(1).case
    added, cursor, _ = follow(acme.client)
    case_services.case_withdraw(case=case)
    removed, _, _ = follow(acme.client, cursor=cursor)
    assert {e["value"] for e in real(removed)} == {e["value"] for e in real(added)}
    assert all(e["op"] == "remove" and e["status"] == "withdrawn" for e in removed)
    assert min(e["seq"] for e in removed) > max(e["seq"] for e in added)


def test_expiry_and_quarantine_are_removals_too(acme):
    first, second = case_with_items(1).case, case_with_items(1).case
    _, cursor, _ = follow(acme.client)
    case_services.hashes_quarantine(hashes=list(first.hashes.all()))
    second.expires_at = second.created_at
    second.save()
    case_services.cases_expire()
    entries, _, _ = follow(acme.client, cursor=cursor)
    assert {e["status"] for e in entries} == {"quarantined", "expired"}
    assert {e["op"] for e in entries} == {"remove"}


def test_a_fresh_consumer_replaying_the_feed_ends_with_the_active_set(acme):
    keep, drop = case_with_items(2).case, case_with_items(2).case
    case_services.case_withdraw(case=drop)
    state = set()
    for entry in real(follow(acme.client, limit=3)[0]):
        key = (entry["algorithm"], entry["value"])
        if entry["op"] == "add":
            state.add(key)
        else:
            state.discard(key)
    assert state == {(h.algorithm, h.value) for h in keep.hashes.all()}


def test_filters_by_algorithm_and_media_kind_and_the_cursor_keeps_them(acme):
    case_with_items(2)
    entries, cursor, _ = follow(acme.client, algorithm="pdq", limit=1)
    assert entries and {e["algorithm"] for e in entries} == {"pdq"}
    case_with_items(1)
    more, _, _ = follow(acme.client, cursor=cursor)
    assert len(more) == 1 and more[0]["algorithm"] == "pdq"
    assert real(follow(acme.client, media_kind="video")[0]) == []  # only the video decoy
    response = acme.client.get(FEED, {"cursor": cursor, "algorithm": "md5"})
    assert_error(response, 400, "bad_cursor")


def test_entries_carry_pseudonymous_ids_never_case_numbers(acme, other):
    case = case_with_items(1).case
    mine = real(follow(acme.client)[0])
    theirs = real(follow(other.client)[0])
    response = acme.client.get(FEED)
    assert case.number.encode() not in response.content
    assert str(case.pk) not in {e["case_id"] for e in mine}
    assert len({e["case_id"] for e in mine}) == 1
    assert {e["case_id"] for e in mine}.isdisjoint({e["case_id"] for e in theirs})
    assert {e["item_id"] for e in mine}.isdisjoint({e["item_id"] for e in theirs})


def test_idle_poll_with_the_etag_is_a_304_until_something_changes(acme):
    case_with_items(1)
    _, cursor, _ = follow(acme.client)
    first = acme.client.get(FEED, {"cursor": cursor})
    assert first.status_code == 200 and first.json()["entries"] == []
    etag = first["ETag"]
    again = acme.client.get(FEED, {"cursor": cursor}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    case_with_items(1)
    changed = acme.client.get(FEED, {"cursor": cursor}, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["entries"]


def test_fetching_records_how_far_the_platform_got(acme):
    case = case_with_items(1).case
    assert case_distribution(case=case).platforms_received == 0
    _, _, _ = follow(acme.client)
    platform = Platform.objects.get(pk=acme.platform.pk)
    assert platform.fetched_seq >= max(case.hashes.values_list("feed_seq", flat=True))
    assert platform.fetched_at is not None
    assert case_distribution(case=case).platforms_received == 1


def test_feedback_counts_ride_along_in_entries(acme):
    from portal.platforms.models import HashFeedback

    case = case_with_items(1).case
    target = case.hashes.get(algorithm="pdq")
    for name, outcome in [("A", "blocked"), ("B", "blocked"), ("C", "not_violating")]:
        platform = Platform.objects.create(name=name)
        HashFeedback.objects.create(platform=platform, submitted_hash=target, outcome=outcome)
    entry = next(e for e in follow(acme.client)[0] if e["value"] == target.value)
    assert entry["feedback"] == {"blocked": 2, "not_violating": 1, "matched_pending_review": 0}


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "eyJ2IjoxLCJwIjo1fQ",  # unsigned JSON
        "%%%%",
        "a" * 600,
    ],
)
def test_bad_cursors_are_refused_and_change_nothing(acme, cursor):
    case_with_items(1)
    assert_error(acme.client.get(FEED, {"cursor": cursor}), 400, "bad_cursor")
    assert Platform.objects.get(pk=acme.platform.pk).fetched_seq == 0


def test_a_tampered_cursor_is_refused(acme):
    case_with_items(1)
    _, cursor, _ = follow(acme.client)
    import base64

    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    payload, signature = raw.split(":", 1)
    rewound = base64.urlsafe_b64encode(b'{"v":1,"p":0,"a":null,"m":null}').decode().rstrip("=")
    assert rewound != payload
    forged = f"{rewound}:{signature}"
    token = base64.urlsafe_b64encode(forged.encode()).decode().rstrip("=")
    assert_error(acme.client.get(FEED, {"cursor": token}), 400, "bad_cursor")


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"limit": 0}, "limit", "min_value"),
        ({"limit": 10_001}, "limit", "max_value"),
        ({"limit": "ten"}, "limit", "invalid"),
        ({"algorithm": "sha1"}, "algorithm", "invalid_choice"),
        ({"media_kind": "audio"}, "media_kind", "invalid_choice"),
    ],
)
def test_bad_parameters_are_400_with_field_codes(acme, params, field, code):
    body = assert_error(acme.client.get(FEED, params), 400, "validation_error")
    assert body["details"][field][0]["code"] == code


def test_page_size_goes_up_to_ten_thousand(acme):
    case_with_items(3)
    response = acme.client.get(FEED, {"limit": 10_000})
    assert response.status_code == 200 and not response.json()["has_more"]
