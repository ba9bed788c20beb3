"""The binary snapshot in the toolkit: format round trip, its checks, and ``sync`` using it.

No Django here: the server side is a small HTTP server serving snapshots built with the
format's own writer (hashing/platform/snapshot_format.py), as a newer or an older
Takeback would (tests/api/test_snapshot_binary.py checks the real server's bytes against
its NDJSON snapshot; tests/hashing/test_platform_toolkit.py runs sync against it).
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import threading
import urllib.parse
import zlib
from collections.abc import Iterator
from dataclasses import astuple, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from hashing.algorithms import ALGORITHMS
from hashing.platform import snapshot_format as fmt
from hashing.platform.check import Checker
from hashing.platform.client import Client
from hashing.platform.store import Entry, Store
from hashing.platform.sync import SyncError, sync

ROOT = Path(__file__).resolve().parents[2]
CURSOR = "c_at_99"
TOOLKIT = [sys.executable, "-m", "hashing.platform"]


def pseudonym(prefix: str, rng: random.Random) -> str:
    return prefix + rng.randbytes(12).hex()


def entries(count: int = 40, *, seed: int = 1) -> list[Entry]:
    """Every algorithm, photos and a video with frames (ms timestamps), quality None."""
    rng = random.Random(seed)
    out: list[Entry] = []
    seq = 0
    while len(out) < count:
        case = pseudonym("pc_", rng)
        item = pseudonym("pi_", rng)
        for algorithm in ("pdq", "phash", "dhash", "md5", "sha256"):
            seq += rng.randint(1, 3)
            value = rng.randbytes(ALGORITHMS[algorithm].hex_length // 2).hex()
            quality = rng.choice([None, 0, 49, 100]) if algorithm == "pdq" else None
            out.append(Entry(seq, algorithm, value, "image", quality, case, item))
        video = pseudonym("pi_", rng)
        for frame in range(3):
            seq += 1
            value = rng.randbytes(32).hex()
            timestamp = round(frame * 1.001 + 0.033, 3)
            out.append(Entry(seq, "pdq", value, "video", 80, case, video, frame * 30, timestamp))
    return out[:count]


def snapshot_bytes(rows: list[Entry], *, position: int = 99, cursor: str = CURSOR) -> bytes:
    records = fmt.records_from_rows(rows)
    meta = {"type": "snapshot", "cursor": cursor, "position": position}
    data = records.tobytes()
    trailer = fmt.trailer_bytes(count=len(rows), position=position, crc=zlib.crc32(data))
    return fmt.header_bytes(meta) + data + trailer


def ndjson_bytes(rows: list[Entry], *, position: int = 99) -> bytes:
    names = ("seq", "algorithm", "value", "media_kind", "quality", "case_id", "item_id")
    names += ("frame", "timestamp")
    lines = [{"type": "snapshot", "cursor": CURSOR, "position": position}]
    lines += [{"type": "hash", **dict(zip(names, astuple(row), strict=True))} for row in rows]
    lines.append({"type": "end", "cursor": CURSOR, "position": position, "count": len(rows)})
    return gzip.compress("".join(json.dumps(line) + "\n" for line in lines).encode())


def parse(data: bytes, *, piece: int = 777) -> tuple[fmt.Reader, list[Entry]]:
    reader = fmt.Reader()
    pieces = (data[i : i + piece] for i in range(0, len(data), piece))
    out = []
    for batch in reader.batches(pieces, batch_rows=7):
        out.extend(Entry(*row) for row in fmt.columns(batch).rows())
    return reader, out


# The format ---------------------------------------------------------------------------


def test_every_field_round_trips_frames_none_quality_and_every_algorithm():
    rows = entries(200)
    reader, back = parse(snapshot_bytes(rows))
    assert back == rows
    assert reader.header == {"type": "snapshot", "cursor": CURSOR, "position": 99}
    assert reader.trailer == {"count": 200, "position": 99}
    assert {r.algorithm for r in back} == {"pdq", "phash", "dhash", "md5", "sha256"}
    assert any(r.quality is None for r in back) and any(r.quality == 0 for r in back)
    assert any(r.frame == 0 and r.timestamp == 0.033 for r in back)
    assert fmt.RECORD_SIZE == 80


def test_an_empty_snapshot_round_trips():
    reader, back = parse(snapshot_bytes([]))
    assert back == [] and reader.trailer == {"count": 0, "position": 99}


@pytest.mark.parametrize("keep", [0, 5, 16, 30, 200, -33, -32, -1, -81])
def test_a_snapshot_cut_anywhere_is_a_clear_error(keep):
    data = snapshot_bytes(entries(20))
    with pytest.raises(fmt.SnapshotFormatError, match=r"cut short|inconsistent|not a"):
        parse(data[:keep])


def test_another_version_or_record_size_is_refused_with_what_to_do():
    data = bytearray(snapshot_bytes(entries(3)))
    data[8:10] = (2).to_bytes(2, "little")
    with pytest.raises(fmt.SnapshotFormatError, match=r"version 2.*reads version 1.*upgrade"):
        parse(bytes(data))
    data[8:12] = (1).to_bytes(2, "little") + (96).to_bytes(2, "little")
    with pytest.raises(fmt.SnapshotFormatError, match=r"records of 96 bytes"):
        parse(bytes(data))
    with pytest.raises(fmt.SnapshotFormatError, match="not a Takeback"):
        parse(b"<html>" + bytes(data))


def test_damaged_records_fail_the_crc_and_a_wrong_count_is_inconsistent():
    data = bytearray(snapshot_bytes(entries(10)))
    data[200] ^= 1
    with pytest.raises(fmt.SnapshotFormatError, match="CRC"):
        parse(bytes(data))
    good = snapshot_bytes(entries(10))
    extra = good[:-32] + fmt.records_from_rows(entries(1)).tobytes() + good[-32:]
    with pytest.raises(fmt.SnapshotFormatError, match="inconsistent"):
        parse(extra)


def test_unknown_codes_are_refused():
    records = fmt.records_from_rows(entries(2))
    records["algorithm"][1] = 200
    with pytest.raises(fmt.SnapshotFormatError, match="algorithm code"):
        fmt.columns(records)


# sync against a server ------------------------------------------------------------------


class FakeTakeback:
    """Serves a snapshot (binary and NDJSON, or NDJSON only: an older server) and an empty feed."""

    def __init__(self, *, binary: bytes | None, ndjson: bytes, position: int = 99) -> None:
        self.binary, self.ndjson, self.position = binary, ndjson, position
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                fake.requests.append(f"{url.path}?{url.query}")
                if url.path == "/api/v1/hashes/snapshot" and query.get("format") == "binary":
                    if fake.binary is None:
                        body = {"code": "validation_error", "message": "bad", "details": {}}
                        return self._send(400, "application/json", json.dumps(body).encode())
                    if query.get("compress") == "true":
                        body = gzip.compress(fake.binary, 1)
                        return self._send(200, "application/gzip", body)
                    return self._send(200, fmt.CONTENT_TYPE, fake.binary)
                if url.path == "/api/v1/hashes/snapshot":
                    return self._send(200, "application/gzip", fake.ndjson)
                page = {"entries": [], "cursor": CURSOR, "position": fake.position}
                page |= {"head": fake.position, "has_more": False}
                return self._send(200, "application/json", json.dumps(page).encode())

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self._send(200, "application/json", b"{}")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator:
    servers: list[FakeTakeback] = []

    def start(**kwargs: object) -> FakeTakeback:
        servers.append(FakeTakeback(**kwargs))  # type: ignore[arg-type]
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def expected_dump(rows: list[Entry]) -> list[tuple]:
    key = sorted((r.algorithm, r.value, r.case_id, r.item_id, r) for r in rows)
    return [(*astuple(r)[1:7], r.seq, r.frame, r.timestamp) for *_, r in key]


def test_sync_bootstraps_from_the_binary_snapshot_by_default(serve, tmp_path):
    rows = entries(300)
    server = serve(binary=snapshot_bytes(rows), ndjson=ndjson_bytes(rows))
    with Store(tmp_path / "s.db") as store:
        result = sync(store, Client(server.url, "k", retries=0), progress=False)
        assert result.bootstrapped == 300 and result.caught_up
        assert store.dump() == expected_dump(rows)
        assert store.meta_get("cursor") == CURSOR and store.meta_get("position") == "99"
        # The toolkit answers lookups from it (index built from arrays).
        pdq = next(r for r in rows if r.algorithm == "pdq")
        match = Checker(store).lookup({"pdq": pdq.value})[0]
        assert (match["value"], match["distance"]) == (pdq.value, 0)
        # The feed after it works as before (incremental adds and removes).
        with store.transaction():
            store.add([replace(pdq, seq=100, quality=7)])
            store.remove([rows[1]])
        assert store.count() == 299
    assert [r.split("?")[0] for r in server.requests][:2] == [
        "/api/v1/hashes/snapshot",
        "/api/v1/hashes/feed",
    ]
    assert "format=binary" in server.requests[0]


def test_binary_and_ndjson_bootstraps_give_the_same_store(serve, tmp_path):
    rows = entries(120, seed=5)
    dumps = []
    for binary in (snapshot_bytes(rows), None):  # None: an older server, NDJSON only
        server = serve(binary=binary, ndjson=ndjson_bytes(rows))
        with Store(tmp_path / f"{binary is None}.db") as store:
            assert sync(store, Client(server.url, "k", retries=0), progress=False).bootstrapped
            dumps.append(store.dump())
        query = [urllib.parse.parse_qs(r.split("?")[1]).get("format") for r in server.requests]
        # Then the feed (no format).
        assert query == ([["binary"], None] if binary else [["binary"], ["ndjson"], None])
    assert dumps[0] == dumps[1] == expected_dump(rows)


def test_sync_can_ask_for_the_binary_snapshot_gzipped(serve, tmp_path):
    rows = entries(60)
    server = serve(binary=snapshot_bytes(rows), ndjson=b"")
    with Store(tmp_path / "s.db") as store:
        sync(store, Client(server.url, "k", retries=0), progress=False, compress=True)
        assert store.dump() == expected_dump(rows)
    assert "compress=true" in server.requests[0]


def test_duplicate_keys_in_a_snapshot_keep_the_last_row(serve, tmp_path):
    rows = entries(10)
    again = replace(rows[3], seq=500, quality=1)
    server = serve(binary=snapshot_bytes([*rows, again]), ndjson=b"")
    with Store(tmp_path / "s.db") as store:
        sync(store, Client(server.url, "k", retries=0), progress=False)
        assert store.dump() == expected_dump([*rows[:3], again, *rows[4:]])


@pytest.mark.parametrize("damage", ["truncated", "version"])
def test_a_bad_download_is_a_clear_error_and_leaves_the_store_untouched(serve, tmp_path, damage):
    data = bytearray(snapshot_bytes(entries(500)))
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[8:10] = (9).to_bytes(2, "little")
    server = serve(binary=bytes(data), ndjson=b"")
    db = tmp_path / "s.db"
    before = entries(2, seed=9)
    with Store(db) as store:
        with store.transaction():
            store.add(before)
        with pytest.raises(SyncError, match=r"cut short|version 9") as caught:
            sync(store, Client(server.url, "k", retries=0), progress=False)
        assert "store is unchanged" in str(caught.value)
        assert store.dump() == expected_dump(before) and store.meta_get("cursor") is None
    done = subprocess.run(
        [*TOOLKIT, "sync", "--quiet", "--db", str(db), "--base-url", server.url, "--api-key", "k"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "run sync again" in done.stderr and "Traceback" not in done.stderr


def test_store_arrays_are_what_the_index_is_built_from(tmp_path):
    rows = entries(50)
    with Store(tmp_path / "s.db") as store:
        with store.transaction():
            store.replace_all((*astuple(r)[1:7], r.seq, r.frame, r.timestamp) for r in rows)
        for algorithm in ("pdq", "phash", "md5"):
            ids, hashes = store.arrays(algorithm)
            by_id = dict(store.rows(algorithm))
            assert sorted(ids.tolist()) == sorted(by_id)
            assert [bytes(h).hex() for h in hashes] == [by_id[i] for i in ids.tolist()]
            assert hashes.dtype == np.uint8
