"""GET /api/v1/hashes/snapshot?format=binary: the NDJSON snapshot's rows as fixed-width records.

Read with the toolkit's own parser (hashing/platform/snapshot_format.py). On PostgreSQL
(scripts/with-services) the server takes its COPY path, elsewhere it packs the ORM rows;
either way the contents must equal the NDJSON snapshot's, decoys included, in order.
"""

import gzip
import json
import struct

import pytest
from django.db import connection
from django.urls import reverse

from hashing.platform import snapshot_format
from portal.cases import services as case_services
from portal.platforms import decoys
from portal.platforms.models import Decoy, Platform
from tests.support.factories import SubmittedItemFactory, case_with_items

pytestmark = pytest.mark.django_db

SNAPSHOT = reverse("v1:hash-snapshot")


def ndjson_rows(client, **params) -> tuple[dict, list[dict]]:
    response = client.get(SNAPSHOT, {"format": "ndjson", **params})
    data = gzip.decompress(b"".join(response.streaming_content))
    lines = [json.loads(line) for line in data.splitlines()]
    header, *rows, _ = lines
    return header, [{k: v for k, v in row.items() if k != "type"} for row in rows]


def binary_body(client, **params) -> tuple[object, bytes]:
    response = client.get(SNAPSHOT, {"format": "binary", **params})
    assert response.status_code == 200, response.content
    assert response.streaming
    return response, b"".join(response.streaming_content)


def parse(body: bytes) -> tuple[dict, list[dict]]:
    reader = snapshot_format.Reader()
    rows = []
    for batch in reader.batches([body[i : i + 1000] for i in range(0, len(body), 1000)]):
        columns = snapshot_format.columns(batch)
        names = ("seq", "algorithm", "value", "media_kind", "quality", "case_id", "item_id")
        names += ("frame", "timestamp")
        rows.extend(dict(zip(names, row, strict=True)) for row in columns.rows())
    assert reader.header is not None
    return reader.header, rows


def varied_cases() -> None:
    """Photos, a video with frames (timestamps with ms), quality None, a withdrawn case."""
    photo = SubmittedItemFactory.build()
    video = SubmittedItemFactory.build(video=True, frames=4)
    case_services.case_create(items=[photo, video])
    case_with_items(3)
    case_services.case_withdraw(case=case_with_items(1).case)
    case_with_items(2)


def test_binary_snapshot_equals_the_ndjson_one_field_by_field(acme):
    varied_cases()
    ndjson_header, expected = ndjson_rows(acme.client)
    response, body = binary_body(acme.client)
    assert response["Content-Type"] == snapshot_format.CONTENT_TYPE
    header, rows = parse(body)
    assert header["cursor"] == ndjson_header["cursor"] == response["Takeback-Cursor"]
    assert header["position"] == ndjson_header["position"]
    assert rows == expected
    # Everything the format has to carry is in this data: frames, None quality, decoys.
    assert any(r["frame"] is not None and r["timestamp"] is not None for r in rows)
    assert any(r["quality"] is None for r in rows)
    assert any(r["media_kind"] == "video" for r in rows)
    decoy_values = set(Decoy.objects.filter(platform=acme.platform).values_list("value"))
    assert {(r["value"],) for r in rows} & decoy_values == decoy_values
    assert len(body) == len(snapshot_format.header_bytes(header)) + 80 * len(rows) + 32


def test_a_withdrawn_decoy_case_is_left_out_as_in_the_ndjson_snapshot(acme):
    varied_cases()
    key = Decoy.objects.filter(platform=acme.platform).values_list("case_key", flat=True).first()
    assert decoys.decoy_case_withdraw(platform_id=acme.platform.pk, case_key=key) > 0
    _, expected = ndjson_rows(acme.client)
    _, rows = parse(binary_body(acme.client)[1])
    withdrawn = set(
        Decoy.objects.filter(platform=acme.platform, case_key=key).values_list("value", flat=True)
    )
    assert not {r["value"] for r in rows} & withdrawn
    assert rows == expected


def test_filtered_and_compressed_binary_snapshots_equal_the_ndjson_ones(acme):
    varied_cases()
    for params in ({"algorithm": "pdq"}, {"media_kind": "video"}, {"algorithm": "md5"}):
        _, expected = ndjson_rows(acme.client, **params)
        response, body = binary_body(acme.client, compress="true", **params)
        assert response["Content-Type"] == "application/gzip"
        assert parse(gzip.decompress(body))[1] == expected, params


def test_decoys_after_every_hash_and_in_between_keep_position_order(acme):
    case_with_items(2)
    decoys.decoys_create(platform=acme.platform)  # more decoys, after those hashes
    case_with_items(1)
    _, expected = ndjson_rows(acme.client)
    _, rows = parse(binary_body(acme.client)[1])
    assert rows == expected
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs)


def test_a_binary_download_is_recorded_only_once_fully_produced(acme):
    case_with_items(1)
    response = acme.client.get(SNAPSHOT, {"format": "binary"})
    chunks = iter(response.streaming_content)
    next(chunks)
    assert Platform.objects.get(pk=acme.platform.pk).fetched_seq == 0
    list(chunks)
    platform = Platform.objects.get(pk=acme.platform.pk)
    assert platform.fetched_seq == int(response["Takeback-Position"])


def test_an_empty_binary_snapshot_is_a_header_and_a_trailer(acme):
    Decoy.objects.all().delete()
    header, rows = parse(binary_body(acme.client)[1])
    assert rows == [] and header["type"] == "snapshot"


def test_the_server_takes_its_copy_path_on_postgresql(acme):
    """On PostgreSQL the rows come from one COPY, read in batches with decoys merged in."""
    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    for _ in range(3):
        case_with_items(2)
    from portal.platforms import snapshot_binary

    sql, _ = snapshot_binary._copy_sql(position=10**9, filters=snapshot_binary.FeedFilters())
    assert sql.startswith("COPY (") and "FORMAT BINARY" in sql
    _, expected = ndjson_rows(acme.client)
    old = snapshot_binary.BATCH_ROWS
    snapshot_binary.BATCH_ROWS = 3  # several COPY batches, decoys merged across them
    try:
        assert parse(binary_body(acme.client)[1])[1] == expected
    finally:
        snapshot_binary.BATCH_ROWS = old


def test_the_header_names_the_format_version_and_record_size(acme):
    _, body = binary_body(acme.client)
    magic, version, size, length = struct.unpack("<8sHHI", body[:16])
    assert (magic, version, size) == (b"TKBKSNAP", 1, 80)
    assert json.loads(body[16 : 16 + length])["type"] == "snapshot"
    assert body[-32:-24] == b"TKBKEND\0"
