"""The platform toolkit end to end: `python -m hashing.platform` against a live server.

Real images (drawn with Pillow, saved to disk) are hashed with `hashing.hash_image`,
submitted as victims' cases through the services, and the toolkit, run as a separate
process exactly as a platform would run it, syncs the native API's snapshot and feed
into SQLite and checks files against it. These are integration tests (they need the
database and the native API); the toolkit itself never imports Django, which the last
tests assert in a fresh interpreter.
"""

from __future__ import annotations

import json
import random
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connections
from PIL import Image, ImageDraw

import hashing
from hashing.distance import hamming_distance
from portal.cases import services as cases
from portal.cases.models import SubmittedHash
from portal.platforms import services as platforms
from portal.platforms.models import Decoy, Platform
from portal.platforms.selectors import case_distribution

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def live_server_resources(settings, monkeypatch) -> None:
    # As in tests/api/test_stopncii_client.py: request threads of the live
    # server must not keep database sessions or Redis sockets past the test.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def draw_image(path: Path, seed: int) -> Path:
    """A busy picture of random shapes: plenty of structure for a confident PDQ hash."""
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x0, y0 = rng.randrange(320), rng.randrange(240)
        x1, y1 = x0 + rng.randrange(20, 160), y0 + rng.randrange(20, 120)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice([draw.rectangle, draw.ellipse])
        shape([x0, y0, x1, y1], fill=colour)
    image.save(path, format="PNG")
    return path


def item_of(path: Path) -> cases.SubmittedItem:
    record = hashing.hash_image(path)
    return cases.SubmittedItem(
        media_kind="image",
        hashes={k: record[k] for k in ("pdq", "phash", "dhash", "md5", "sha256")},
        pdq_quality=record["pdq_quality"],
    )


def toolkit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hashing.platform", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def sync_args(live_server, key: str, db: Path, *extra: str) -> list[str]:
    return ["sync", "--base-url", live_server.url, "--api-key", key, "--db", str(db), *extra]


def expected_rows(platform: Platform) -> set[tuple[str, str]]:
    active = set(SubmittedHash.objects.filter(status="active").values_list("algorithm", "value"))
    return active | set(Decoy.objects.filter(platform=platform).values_list("algorithm", "value"))


def stored_rows(db: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return set(conn.execute("SELECT algorithm, value FROM hashes"))


def dump(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return list(
            conn.execute(
                "SELECT algorithm, value, media_kind, quality, case_id, item_id, seq "
                "FROM hashes ORDER BY algorithm, value, case_id, item_id"
            )
        )


def check(db: Path, *files: Path) -> tuple[int, list[dict]]:
    done = toolkit("check", "--db", str(db), *map(str, files))
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    return done.returncode, lines


def test_sync_then_check_follows_additions_and_withdrawals(live_server, tmp_path):
    images = {
        name: draw_image(tmp_path / f"{name}.png", seed)
        for seed, name in enumerate(["kept1", "kept2", "withdrawn", "later", "never"])
    }
    created = platforms.platform_create(name="Small Platform")
    key = created.api_key.raw
    cases.case_create(items=[item_of(images["kept1"]), item_of(images["kept2"])])
    withdrawn = cases.case_create(items=[item_of(images["withdrawn"])]).case
    db = tmp_path / "hashes.db"

    # Bootstrap from the snapshot.
    first = toolkit(*sync_args(live_server, key, db, "--page-size", "3"))
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["bootstrapped"] == summary["hashes"] == len(expected_rows(created.platform))
    assert summary["caught_up"] is True
    assert "snapshot" in first.stderr  # the progress bar
    assert stored_rows(db) == expected_rows(created.platform)
    platform = Platform.objects.get(pk=created.platform.pk)
    assert platform.fetched_seq == summary["position"] > 0
    # ... and told the server what it has applied.
    assert summary["acknowledged"] == platform.applied_seq == summary["position"]

    code, results = check(db, images["kept1"], images["withdrawn"], images["never"])
    assert code == 1
    by_name = {Path(r["path"]).stem: r for r in results}
    assert by_name["kept1"]["match"] is True and by_name["kept1"]["distance"] == 0
    assert {m["algorithm"] for m in by_name["kept1"]["matches"]} >= {"pdq", "phash", "md5"}
    assert by_name["withdrawn"]["match"] is True
    assert by_name["never"]["match"] is False and by_name["never"]["matches"] == []

    # Changes: a withdrawal and a new case, then an interrupted incremental sync.
    cases.case_withdraw(case=withdrawn)
    cases.case_create(items=[item_of(images["later"])])
    partial = toolkit(*sync_args(live_server, key, db, "--page-size", "2", "--max-pages", "1"))
    assert partial.returncode == 0, partial.stderr
    assert json.loads(partial.stdout)["caught_up"] is False
    resumed = toolkit(*sync_args(live_server, key, db, "--page-size", "2"))
    assert resumed.returncode == 0, resumed.stderr
    resumed_summary = json.loads(resumed.stdout)
    assert resumed_summary["bootstrapped"] == 0  # resumed from the cursor, no new snapshot
    assert resumed_summary["caught_up"] is True
    assert "feed [" in resumed.stderr
    assert stored_rows(db) == expected_rows(created.platform)
    # The victim's case page can now say the withdrawal was applied here.
    distribution = case_distribution(case=withdrawn)
    assert (distribution.platforms_removed, distribution.platforms_total) == (1, 1)

    # Resumed incremental == a fresh bootstrap now, row for row.
    fresh = tmp_path / "fresh.db"
    assert toolkit(*sync_args(live_server, key, fresh, "--quiet")).returncode == 0
    assert dump(db) == dump(fresh)

    code, results = check(db, images["withdrawn"], images["never"])
    assert code == 0 and not any(r["match"] for r in results)

    # A re-encoded, resized copy of a submitted picture still matches (PDQ/pHash).
    copy = tmp_path / "later-copy.jpg"
    Image.open(images["later"]).resize((240, 180)).save(copy, format="JPEG", quality=70)
    code, results = check(db, copy)
    assert code == 1
    (result,) = results
    near = [m for m in result["matches"] if m["algorithm"] == "pdq"]
    assert near and 0 < near[0]["distance"] <= 31
    later_pdq = item_of(images["later"]).hashes["pdq"]
    assert near[0]["distance"] == hamming_distance(result["hashes"]["pdq"], later_pdq)
    assert not [m for m in result["matches"] if m["algorithm"] == "md5"]


def test_check_errors_exit_2_and_never_pass_as_clean(live_server, tmp_path):
    created = platforms.platform_create(name="Small Platform")
    picture = draw_image(tmp_path / "p.png", 1)
    cases.case_create(items=[item_of(picture)])
    db = tmp_path / "hashes.db"
    assert toolkit(*sync_args(live_server, created.api_key.raw, db, "--quiet")).returncode == 0
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    code, results = check(db, picture, broken, tmp_path / "missing.png")
    assert code == 2
    assert results[0]["match"] is True
    assert "error" in results[1] and "error" in results[2]
    # No store yet: an error, not "no match".
    none = toolkit("check", "--db", str(tmp_path / "nothing.db"), str(picture))
    assert none.returncode == 2 and "run sync first" in none.stderr


def test_sync_with_a_bad_key_fails_clearly_and_keeps_the_store(live_server, tmp_path):
    created = platforms.platform_create(name="Small Platform")
    cases.case_create(items=[item_of(draw_image(tmp_path / "p.png", 2))])
    db = tmp_path / "hashes.db"
    assert toolkit(*sync_args(live_server, created.api_key.raw, db, "--quiet")).returncode == 0
    before = dump(db)
    platforms.api_key_revoke(api_key=created.api_key.api_key)
    refused = toolkit(*sync_args(live_server, created.api_key.raw, db, "--quiet"))
    assert refused.returncode == 2
    assert "401" in refused.stderr and "invalid_api_key" not in refused.stdout
    assert dump(db) == before
    other = toolkit(*sync_args(live_server, created.api_key.raw, db, "--quiet"))
    assert other.returncode == 2
    wrong_server = toolkit(
        "sync",
        "--base-url",
        "http://127.0.0.1:9",
        "--api-key",
        "tb_x_y",
        "--db",
        str(db),
        "--quiet",
    )
    assert wrong_server.returncode == 2 and "follows" in wrong_server.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_index_answers_lookups(live_server, tmp_path):
    created = platforms.platform_create(name="Small Platform")
    picture = draw_image(tmp_path / "p.png", 3)
    item = item_of(picture)
    cases.case_create(items=[item])
    db = tmp_path / "hashes.db"
    assert toolkit(*sync_args(live_server, created.api_key.raw, db, "--quiet")).returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hashing.platform",
            "serve-index",
            "--db",
            str(db),
            "--port",
            str(port),
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health_url = f"http://127.0.0.1:{port}/health"
                with urllib.request.urlopen(health_url, timeout=2) as r:
                    health = json.load(r)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert health["hashes"] == len(expected_rows(created.platform))

        def post(body: bytes) -> tuple[int, dict]:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/check",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as r:
                    return r.status, json.load(r)
            except urllib.error.HTTPError as exc:
                return exc.code, json.load(exc)

        status, body = post(json.dumps({"hashes": {"pdq": item.hashes["pdq"]}}).encode())
        assert status == 200 and body["match"] is True and body["distance"] == 0
        flipped = f"{int(item.hashes['pdq'], 16) ^ 0b111:064x}"
        status, body = post(json.dumps({"hashes": {"pdq": flipped}}).encode())
        assert body["match"] is True and body["distance"] == 3
        status, body = post(json.dumps({"hashes": {"pdq": "zz"}}).encode())
        assert status == 400 and body["code"] == "bad_hash"
        status, body = post(b"not json")
        assert status == 400 and body["code"] == "bad_request"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_toolkit_never_imports_django(tmp_path):
    picture = draw_image(tmp_path / "p.png", 4)
    db = tmp_path / "empty.db"
    code = (
        "import sys\n"
        "from hashing.platform.__main__ import main\n"
        "import hashing.platform.serve, hashing.platform.sync\n"
        f"rc = main(['check', '--db', {str(db)!r}, {str(picture)!r}])\n"
        "assert rc == 0, rc\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('django', 'rest_framework', 'celery', 'portal', 'api')]\n"
        "assert not bad, bad\n"
    )
    from hashing.platform.store import Store

    Store(db).close()
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["match"] is False
