"""GET /api/v1/hashes/snapshot: streamed gzip NDJSON/CSV, consistent with the feed."""

import csv
import gzip
import io
import json
import tracemalloc

import pytest
from django.db import transaction
from django.urls import reverse

from portal.cases import services as case_services
from portal.cases.models import Case, SubmittedHash
from portal.cases.positions import feed_positions_allocate
from portal.platforms.models import Platform
from tests.support.factories import case_with_items, random_pdq
from tests.support.platforms import assert_error

pytestmark = pytest.mark.django_db

SNAPSHOT = reverse("v1:hash-snapshot")
FEED = reverse("v1:hash-feed")


def download(client, **params) -> tuple[object, bytes]:
    response = client.get(SNAPSHOT, params)
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "application/gzip"
    return response, gzip.decompress(b"".join(response.streaming_content))


def ndjson(client, **params):
    response, data = download(client, format="ndjson", **params)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    return response, lines


def test_ndjson_snapshot_holds_the_active_hashes_and_its_cursor(acme):
    keep, drop = case_with_items(2).case, case_with_items(1).case
    case_services.case_withdraw(case=drop)
    response, lines = ndjson(acme.client)
    header, *rows, end = lines
    assert header["type"] == "snapshot" and end["type"] == "end"
    assert header["cursor"] == end["cursor"] == response["Takeback-Cursor"]
    assert header["position"] == int(response["Takeback-Position"])
    assert end["count"] == len(rows)
    hashes = [r for r in rows if r["type"] == "hash"]
    values = {(r["algorithm"], r["value"]) for r in hashes}
    active = {(h.algorithm, h.value) for h in keep.hashes.all()}
    assert active <= values
    assert not values & {(h.algorithm, h.value) for h in drop.hashes.all()}
    assert keep.number not in json.dumps(lines)
    seqs = [r["seq"] for r in hashes]
    assert seqs == sorted(seqs)


def test_snapshot_then_feed_from_its_cursor_gives_the_current_state(acme):
    first, second = case_with_items(2).case, case_with_items(1).case
    _, lines = ndjson(acme.client)
    state = {(r["algorithm"], r["value"]) for r in lines if r.get("type") == "hash"}
    cursor = lines[0]["cursor"]
    case_services.case_withdraw(case=first)
    third = case_with_items(1).case
    response = acme.client.get(FEED, {"cursor": cursor})
    for entry in response.json()["entries"]:
        key = (entry["algorithm"], entry["value"])
        (state.add if entry["op"] == "add" else state.discard)(key)
    real = {(h.algorithm, h.value) for h in SubmittedHash.objects.filter(status="active")}
    assert {k for k in state if k in real or k[1] not in _decoy_values()} == real
    assert {(h.algorithm, h.value) for h in third.hashes.all()} <= state
    assert not {(h.algorithm, h.value) for h in first.hashes.all()} & state
    assert {(h.algorithm, h.value) for h in second.hashes.all()} <= state


def _decoy_values() -> set[str]:
    from portal.platforms.models import Decoy

    return set(Decoy.objects.values_list("value", flat=True))


def test_csv_snapshot_has_comment_lines_a_header_and_the_rows(acme):
    case = case_with_items(1).case
    response, data = download(acme.client, format="csv", algorithm="pdq")
    text = data.decode().splitlines()
    assert text[0].startswith("# takeback snapshot cursor=")
    assert response["Takeback-Cursor"] in text[0] and response["Takeback-Cursor"] in text[-1]
    rows = list(csv.DictReader(io.StringIO("\n".join(text[1:-1]))))
    assert rows and {r["algorithm"] for r in rows} == {"pdq"}
    assert case.hashes.get(algorithm="pdq").value in {r["value"] for r in rows}
    assert text[-1].endswith(f"count={len(rows)}")


def test_a_completed_download_records_the_position_as_fetched(acme):
    case_with_items(1)
    response, _ = download(acme.client)
    platform = Platform.objects.get(pk=acme.platform.pk)
    assert platform.fetched_seq == int(response["Takeback-Position"])


def test_a_filtered_snapshot_cursor_continues_the_filtered_feed(acme):
    case_with_items(1)
    _, lines = ndjson(acme.client, algorithm="md5")
    case_with_items(1)
    entries = acme.client.get(FEED, {"cursor": lines[0]["cursor"]}).json()["entries"]
    assert entries and {e["algorithm"] for e in entries} == {"md5"}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"format": "xml"}, "format"), ({"algorithm": "crc32"}, "algorithm")],
)
def test_bad_snapshot_parameters_are_400(acme, params, field):
    body = assert_error(acme.client.get(SNAPSHOT, params), 400, "validation_error")
    assert field in body["details"]
    assert Platform.objects.get(pk=acme.platform.pk).fetched_seq == 0


def test_snapshot_needs_the_feed_scope(db):
    from tests.support.platforms import platform_client

    limited = platform_client("No feed", scopes=["match"])
    assert_error(limited.client.get(SNAPSHOT), 403, "insufficient_scope")


def insert_hashes(count: int) -> None:
    """Bulk-insert `count` active PDQ hashes under one case (fast fixture for size tests)."""
    case = case_with_items(1).case
    rng = __import__("random").Random(count)
    rows = [
        SubmittedHash(
            case=case,
            algorithm="pdq",
            value=random_pdq(rng),
            quality=90,
            media_kind="image",
        )
        for _ in range(count)
    ]
    with transaction.atomic():
        for row, seq in zip(rows, feed_positions_allocate(count=count), strict=True):
            row.feed_seq = seq
        SubmittedHash.objects.bulk_create(rows, batch_size=2000)


def peak_streaming_memory(client) -> tuple[int, int]:
    """Peak Python memory while streaming the whole snapshot, and its row count."""
    tracemalloc.start()
    try:
        response = client.get(SNAPSHOT)
        decompressor = __import__("zlib").decompressobj(16 + 15)
        newlines = 0
        for chunk in response.streaming_content:
            newlines += decompressor.decompress(chunk).count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, newlines


def test_streaming_memory_does_not_grow_with_the_number_of_hashes(acme):
    insert_hashes(3_000)
    small_peak, small_lines = peak_streaming_memory(acme.client)
    insert_hashes(27_000)
    large_peak, large_lines = peak_streaming_memory(acme.client)
    assert large_lines > 9 * small_lines
    # Ten times the rows, about the same peak: rows are streamed, not collected.
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
    assert Case.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_snapshot_stays_consistent_while_cases_commit_mid_download(postgres_database):
    """On PostgreSQL the stream runs in its own REPEATABLE READ transaction."""
    import threading

    from tests.support.platforms import platform_client

    follower = platform_client("Bootstrapper")
    insert_hashes(6_000)
    early = case_with_items(1).case
    response = follower.client.get(SNAPSHOT)
    chunks = iter(response.streaming_content)
    first = next(chunks)  # the stream (and its transaction) is open now

    def commit_changes() -> None:
        from django.db import connection

        case_services.case_withdraw(case=Case.objects.get(pk=early.pk))
        case_with_items(1)
        connection.close()

    writer = threading.Thread(target=commit_changes)
    writer.start()
    writer.join()
    data = gzip.decompress(first + b"".join(chunks))
    lines = [json.loads(line) for line in data.decode().splitlines()]
    rows = {(r["algorithm"], r["value"]) for r in lines if r["type"] == "hash"}
    # The withdrawal committed after the download started: still in this snapshot...
    assert {(h.algorithm, h.value) for h in early.hashes.all()} <= rows
    # ...and the feed from the snapshot's cursor removes it and adds the new case.
    entries = follower.client.get(FEED, {"cursor": lines[0]["cursor"]}).json()["entries"]
    for entry in entries:
        key = (entry["algorithm"], entry["value"])
        (rows.add if entry["op"] == "add" else rows.discard)(key)
    active = set(SubmittedHash.objects.filter(status="active").values_list("algorithm", "value"))
    assert {k for k in rows if k[1] not in _decoy_values()} == active
