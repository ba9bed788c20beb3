"""Trust in the list (issue 9): quarantine and the review queue, the benign list, decoys
under every observable, the audit log, platforms counted only once they take part."""

from __future__ import annotations

import contextlib
import json
import random

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

import hashing
from portal.cases import services as cases
from portal.cases.models import SubmittedHash
from portal.cases.positions import feed_head
from portal.exceptions import ApplicationError
from portal.platforms.feed import feed_page_get
from portal.platforms.models import Decoy
from portal.platforms.services import FeedbackReport, feedback_submit
from portal.trust import review
from portal.trust.benign import file_is_benign
from portal.trust.models import AuditEvent, BenignHash, ReviewItem
from portal.trust.seed import benign_seed_hashes
from portal.trust.selectors import case_file_notes
from tests.support.conformance import IMAGEHASH_DIR, conformance_image_paths
from tests.support.factories import SubmittedItemFactory, case_with_items
from tests.support.platforms import platform_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_match_indexes) -> None:
    cache.clear()


def _fetch_all(pc) -> list[dict]:
    """Everything the platform's feed carries from the start (and records it as fetched)."""
    entries, cursor = [], None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = pc.client.get(reverse("v1:hash-feed"), params).json()
        entries += body["entries"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return entries


def _feedback(pc, entries: list[dict], outcome: str):
    reports = [
        {"algorithm": e["algorithm"], "value": e["value"], "outcome": outcome} for e in entries
    ]
    response = pc.client.post(reverse("v1:hash-feedback"), {"feedback": reports}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


# Quarantine and review -----------------------------------------------------------


def _pdq_row(case) -> SubmittedHash:
    return case.hashes.get(algorithm="pdq")


def test_two_platforms_not_violating_pull_a_hash_out_of_the_feed_as_a_removal():
    acme, other = platform_client("Acme"), platform_client("Other")
    case = case_with_items(1).case
    row = _pdq_row(case)
    for pc in (acme, other):
        _fetch_all(pc)
    report = [FeedbackReport(algorithm="pdq", value=row.value, outcome="not_violating")]
    feedback_submit(platform=acme.platform, reports=report)
    row.refresh_from_db()
    assert row.status == SubmittedHash.Status.ACTIVE  # one platform is not enough
    before = feed_head()
    feedback_submit(platform=other.platform, reports=report)
    row.refresh_from_db()
    assert row.status == SubmittedHash.Status.QUARANTINED and row.feed_seq > before
    page = feed_page_get(platform=acme.platform, after=before)
    assert [(e.op, e.value, e.status) for e in page.entries] == [
        ("remove", row.value, "quarantined")
    ]
    (item,) = ReviewItem.objects.filter(submitted_hash=row)
    assert item.state == "open" and item.reason == "not_violating"
    assert item.evidence == {"not_violating": 2}
    assert "Paused for review" in case_file_notes(case=case)[row.item_id]


def test_the_same_platform_twice_or_a_platform_that_never_fetched_does_not_count():
    acme, idle = platform_client("Acme"), platform_client("Idle")  # idle never fetched
    row = _pdq_row(case_with_items(1).case)
    _fetch_all(acme)
    report = [FeedbackReport(algorithm="pdq", value=row.value, outcome="not_violating")]
    for platform in (acme.platform, acme.platform, idle.platform):
        feedback_submit(platform=platform, reports=report)
    row.refresh_from_db()
    assert row.status == SubmittedHash.Status.ACTIVE


@override_settings(TAKEBACK_QUARANTINE_NOT_VIOLATING=3)
def test_the_number_of_platforms_is_a_setting():
    pcs = [platform_client(name) for name in ("A", "B", "C")]
    row = _pdq_row(case_with_items(1).case)
    report = [FeedbackReport(algorithm="pdq", value=row.value, outcome="not_violating")]
    for n, pc in enumerate(pcs):
        _fetch_all(pc)
        feedback_submit(platform=pc.platform, reports=report)
        row.refresh_from_db()
        assert (row.status == "quarantined") == (n == 2)


def _operator():
    return get_user_model().objects.create_user("op", password="x", is_staff=True)


def test_an_operator_restores_a_hash_as_an_add_and_old_verdicts_no_longer_count():
    acme, other = platform_client("Acme"), platform_client("Other")
    case = case_with_items(1).case
    row = _pdq_row(case)
    report = [FeedbackReport(algorithm="pdq", value=row.value, outcome="not_violating")]
    for pc in (acme, other):
        _fetch_all(pc)
        feedback_submit(platform=pc.platform, reports=report)
    item = ReviewItem.objects.get(submitted_hash=row)
    with pytest.raises(ApplicationError):
        review.review_restore(review=item, user=_operator(), note="  ")
    before = feed_head()
    review.review_restore(review=item, user=get_user_model().objects.get(), note="real NCII")
    row.refresh_from_db()
    assert row.status == "active" and row.feed_seq > before
    (entry,) = feed_page_get(platform=acme.platform, after=before).entries
    assert (entry.op, entry.value) == ("add", row.value)
    assert "shared with platforms again" in case_file_notes(case=case)[row.item_id]
    # The overruled verdicts stay recorded but no longer pull it; a new one counts again.
    feedback_submit(platform=acme.platform, reports=[FeedbackReport("pdq", row.value, "blocked")])
    feedback_submit(platform=acme.platform, reports=report)
    row.refresh_from_db()
    assert row.status == "active"
    audit = AuditEvent.objects.filter(action="review_restored").get()
    assert audit.actor == "op" and audit.reason == "real NCII"


def test_an_operator_removes_a_hash_for_good_with_a_reason():
    case = case_with_items(1).case
    row = _pdq_row(case)
    review.hashes_quarantine_for_review(
        hashes=[row], reason="operator", evidence={"note": "report"}, user=_operator()
    )
    item = ReviewItem.objects.get(submitted_hash=row)
    review.review_remove(review=item, user=get_user_model().objects.get(), note="a meme")
    row.refresh_from_db()
    assert row.status == "quarantined"
    assert "not shared with platforms" in case_file_notes(case=case)[row.item_id]
    with pytest.raises(ApplicationError):
        review.review_restore(review=item, user=get_user_model().objects.get(), note="oops")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"hash_quarantine", "review_open", "review_removed"} <= actions


@override_settings(TAKEBACK_QUARANTINE_FLOOD_UPLOADS=5)
def test_a_hash_matching_a_flood_of_distinct_uploads_goes_to_review():
    acme = platform_client("Acme")
    row = _pdq_row(case_with_items(1).case)
    rng = random.Random(1)
    value = int(row.value, 16)
    # Distinct uploads within the threshold: flip 1-3 random bits each time.
    for n in range(5):
        near = value
        for bit in rng.sample(range(256), 1 + n % 3):
            near ^= 1 << bit
        hashes = [{"algorithm": "pdq", "value": f"{near:064x}"}]
        assert (
            acme.client.post(
                reverse("v1:hash-match"), {"hashes": hashes}, format="json"
            ).status_code
            == 200
        )
        row.refresh_from_db()
        assert (row.status == "quarantined") == (n == 4)
    assert ReviewItem.objects.get(submitted_hash=row).reason == "flood"


def test_the_same_upload_checked_again_is_not_a_flood():
    acme = platform_client("Acme")
    row = _pdq_row(case_with_items(1).case)
    with override_settings(TAKEBACK_QUARANTINE_FLOOD_UPLOADS=2):
        for _ in range(5):
            acme.client.post(
                reverse("v1:hash-match"),
                {"hashes": [{"algorithm": "pdq", "value": row.value}]},
                format="json",
            )
    row.refresh_from_db()
    assert row.status == "active"


# Benign list ------------------------------------------------------------------------


def test_the_seed_list_is_loaded_and_is_what_seed_py_draws():
    stored = set(
        BenignHash.objects.filter(source="seed").values_list("algorithm", "value", "label")
    )
    assert stored == set(benign_seed_hashes())
    assert len(stored) > 100


def _record_of_png(picture) -> dict:
    import io

    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return hashing.hash_bytes(buffer.getvalue())


def test_a_solid_colour_sent_with_a_claimed_quality_is_held_and_never_shared():
    from PIL import Image

    acme = platform_client("Acme")
    record = _record_of_png(Image.new("RGB", (256, 256), (255, 0, 0)))
    # The client claims a good quality; its PDQ (128 bits set) passes the band.
    item = cases.SubmittedItem(
        media_kind="image",
        hashes={"pdq": record["pdq"], "md5": record["md5"], "sha256": record["sha256"]},
        pdq_quality=100,
    )
    before = feed_head()
    created = cases.case_create(items=[item, SubmittedItemFactory.build()])
    held = created.case.hashes.filter(
        item_id__in=created.case.hashes.filter(value=record["pdq"]).values("item_id")
    )
    assert {h.status for h in held} == {"quarantined"} and all(h.feed_seq < 0 for h in held)
    values = {e["value"] for e in _fetch_all(acme)}
    assert not values & {h.value for h in held}
    assert created.case.hashes.filter(status="active").count() == 4
    assert feed_head() > before
    (note,) = {case_file_notes(case=created.case)[h.item_id] for h in held}
    assert note.startswith("Held for review")
    # Restoring it shares it, as an add.
    item_row = ReviewItem.objects.filter(submitted_hash__in=held).first()
    review.review_restore(review=item_row, user=_operator(), note="checked: real")
    assert item_row.submitted_hash.value in {e["value"] for e in _fetch_all(acme)}


def test_no_conformance_photo_is_held(conformance_dir):
    held = []
    for path in [*conformance_image_paths(), IMAGEHASH_DIR / "imagehash.png"]:
        item = cases.item_from_record(record=hashing.hash_image(path))
        if file_is_benign(item.hashes):
            held.append(path.name)
    assert held == []


def test_an_operators_benign_digest_holds_the_exact_file():
    BenignHash.objects.create(algorithm="md5", value="ab" * 16, label="logo")
    item = SubmittedItemFactory.build(hashes={"md5": "ab" * 16})
    created = cases.case_create(items=[item])
    assert created.case.hashes.get().status == "quarantined"


# Decoys under every observable -------------------------------------------------------


def test_probe_1_feedback_round_trip_does_not_single_out_decoys():
    """Blocked on every fetched hash, then fetch again: decoys come back with it too."""
    acme = platform_client("Acme")
    case_with_items(3)
    entries = _fetch_all(acme)
    decoys = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    assert decoys <= {e["value"] for e in entries}
    answer = _feedback(acme, entries, "blocked")
    assert {r["status"] for r in answer["results"]} == {"recorded"}
    again = _fetch_all(acme)
    assert {e["feedback"]["blocked"] for e in again} == {1}
    hits = acme.client.post(
        reverse("v1:hash-match"),
        {"hashes": [{"algorithm": e["algorithm"], "value": e["value"]} for e in again]},
        format="json",
    ).json()["results"]
    assert all(r["matches"] and r["matches"][0]["feedback"]["blocked"] == 1 for r in hits)


def test_decoys_show_other_platforms_corroboration_as_real_hashes_do():
    acme, other = platform_client("Acme"), platform_client("Other")
    case_with_items(2)
    _fetch_all(acme)
    real = _fetch_all(other)
    _feedback(
        other,
        [
            e
            for e in real
            if e["value"]
            not in set(
                Decoy.objects.filter(platform=other.platform).values_list("value", flat=True)
            )
        ],
        "blocked",
    )
    mine = _fetch_all(acme)
    # Every entry, decoy or not, carries the other platform's report (its twin's, for a decoy).
    decoys = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    # (for every algorithm that real hashes use: a twin is a real hash of the same one)
    algorithms = {e["algorithm"] for e in mine if e["value"] not in decoys}
    decoy_counts = [
        e["feedback"]["blocked"]
        for e in mine
        if e["value"] in decoys and e["algorithm"] in algorithms
    ]
    assert decoy_counts and set(decoy_counts) == {1}


def test_decoy_entries_are_shaped_as_real_ones():
    acme = platform_client("Acme")
    case_with_items(2)
    entries = _fetch_all(acme)
    decoys = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    real = [e for e in entries if e["value"] not in decoys]
    fake = [e for e in entries if e["value"] in decoys]
    assert fake and real
    for entry in fake:
        assert set(entry) == set(real[0])
        assert entry["case_id"].startswith("pc_") and len(entry["case_id"]) == len(
            real[0]["case_id"]
        )
        assert entry["media_kind"] in {"image", "video"} and entry["op"] == "add"
    # Media kinds and ordering: decoys sit at positions of the shared counter, in order.
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)


# Audit log -----------------------------------------------------------------------------


def test_platform_feedback_and_key_changes_are_audited_without_victim_data():
    from portal.platforms import services as platforms

    acme = platform_client("Acme")
    created = case_with_items(1)
    entries = _fetch_all(acme)
    _feedback(acme, entries[:2], "blocked")
    key = platforms.api_key_issue(platform=acme.platform, label="rotation")
    platforms.api_key_revoke(api_key=key.api_key, user=_operator())
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert {"key_issue", "key_revoke", "feedback_submit", "feed_download"} <= set(actions)
    dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert created.case.number not in dump and created.pin not in dump
    for row in created.case.hashes.all():
        assert row.value not in dump


def test_feed_downloads_are_audited_with_their_range():
    acme = platform_client("Acme")
    case_with_items(1)
    _fetch_all(acme)
    event = AuditEvent.objects.filter(action="feed_download").latest("pk")
    assert event.actor == "Acme" and event.detail["after"] == 0
    assert event.detail["to"] == feed_head() and event.detail["entries"] > 0


# Platforms count only once they take part ---------------------------------------------


def test_a_platform_counts_toward_n_of_m_only_with_a_live_key_and_after_fetching():
    from portal.platforms.models import ApiKey, Platform
    from portal.platforms.selectors import case_distribution

    case = case_with_items(1).case
    Platform.objects.create(name="Added in the admin")  # no keys
    acme = platform_client("Acme")
    assert case_distribution(case=case).platforms_total == 0  # Acme has not fetched yet
    _fetch_all(acme)
    assert case_distribution(case=case).platforms_total == 1
    Platform.objects.filter(name="Added in the admin").update(fetched_seq=feed_head())
    assert case_distribution(case=case).platforms_total == 1  # still no key
    ApiKey.objects.filter(platform=acme.platform).update(revoked_at="2026-01-01T00:00:00Z")
    assert case_distribution(case=case).platforms_total == 0


def test_decoys_come_as_whole_files_of_one_case_as_real_submissions_do():
    acme = platform_client("Acme")
    real_item = SubmittedItemFactory.build(
        hashes={**SubmittedItemFactory.build().hashes, "dhash": "0f1e2d3c4b5a6978"}
    )
    cases.case_create(items=[real_item, SubmittedItemFactory.build(video=True)])
    entries = _fetch_all(acme)
    decoys = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))

    def files(rows):
        found: dict[str, tuple] = {}
        for e in rows:
            kind, algorithms = found.get(e["item_id"], (e["media_kind"], ()))
            found[e["item_id"]] = (kind, tuple(sorted((*algorithms, e["algorithm"]))))
        return sorted(found.values())

    real = [e for e in entries if e["value"] not in decoys]
    fake = [e for e in entries if e["value"] in decoys]
    # The same shapes of file: every hash of a photo, the digests of a video.
    assert set(files(fake)) == set(files(real))
    assert len({e["case_id"] for e in fake}) == 1 and len(files(fake)) == 3
    assert not {e["case_id"] for e in fake} & {e["case_id"] for e in real}


def test_forty_solid_colours_submitted_as_photos_never_match_through_match():
    """The outsider's test of issue 9: solid colours sent as photos with quality 100 are
    refused (implausible) or held (benign list); none reaches the match index."""
    from PIL import Image

    acme = platform_client("Acme")
    rng = random.Random(40)
    queries = []
    for _ in range(40):
        colour = tuple(rng.randrange(256) for _ in range(3))
        record = _record_of_png(Image.new("RGB", (rng.choice([64, 256, 500]),) * 2, colour))
        item = cases.SubmittedItem(
            media_kind="image",
            hashes={a: record[a] for a in ("pdq", "phash", "dhash", "md5", "sha256")},
            pdq_quality=100,
        )
        with contextlib.suppress(ApplicationError):
            cases.case_create(items=[item])
        queries.append({"algorithm": "pdq", "value": record["pdq"]})
    assert not SubmittedHash.objects.filter(status="active").exists()
    results = acme.client.post(reverse("v1:hash-match"), {"hashes": queries}, format="json")
    decoys = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    hits = [m for r in results.json()["results"] for m in r["matches"] if m["value"] not in decoys]
    assert hits == []
