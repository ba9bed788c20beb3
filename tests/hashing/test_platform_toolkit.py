"""The platform toolkit end to end: `python -m hashing.platform` against a live server.

Real images (drawn with Pillow, saved to disk) are hashed with `hashing.hash_image`,
submitted as victims' cases through the services, and the toolkit, run as a separate
process exactly as a platform would run it, syncs the native API's snapshot and feed
into SQLite and checks files against it. These are integration tests (they need the
database and the native API); the toolkit itself never imports Django, which the last
tests assert in a fresh interpreter.
"""

from __future__ import annotations

import contextlib
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

import av
import numpy as np
import pytest
from django.db import connections
from PIL import Image, ImageDraw, ImageFilter

import hashing
from hashing.distance import hamming_distance
from portal.cases import services as cases
from portal.cases.models import SubmittedHash
from portal.platforms import services as platforms
from portal.platforms.models import Decoy, Platform
from portal.platforms.selectors import case_distribution

ROOT = Path(__file__).resolve().parents[2]
TOOLKIT = [sys.executable, "-m", "hashing.platform"]


@pytest.fixture(autouse=True)
def live_server_resources(settings, monkeypatch) -> None:
    # As in tests/api/test_stopncii_client.py: request threads of the live
    # server must not keep database sessions or Redis sockets past the test.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def draw_image(path: Path, seed: int, *, shapes: int = 40) -> Path:
    """A busy picture of random shapes: plenty of structure for a confident PDQ hash."""
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(shapes):
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
                "SELECT algorithm, value, media_kind, quality, case_id, item_id, seq, "
                "frame, timestamp FROM hashes ORDER BY algorithm, value, case_id, item_id"
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


def encode_clip(
    path: Path, pictures: list[Image.Image], *, fps: int = 10, seconds: int = 2
) -> Path:
    """An H.264 MP4 showing each picture for `seconds` (PyAV, as tests/hashing/test_video.py)."""
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for picture in pictures:
            pixels = np.asarray(picture.convert("RGB").resize((320, 240)))
            for _ in range(fps * seconds):
                output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        output.mux(stream.encode())
    return path


def synced(live_server, tmp_path: Path, *items: cases.SubmittedItem) -> tuple[object, Path]:
    """A platform whose store holds one case of `items` (and its decoys)."""
    created = platforms.platform_create(name="Small Platform")
    cases.case_create(items=list(items))
    db = tmp_path / "hashes.db"
    done = toolkit(*sync_args(live_server, created.api_key.raw, db, "--quiet"))
    assert done.returncode == 0, done.stderr
    return created, db


def test_check_catches_rotated_and_mirrored_copies(live_server, tmp_path):
    picture = draw_image(tmp_path / "p.png", 5)
    _, db = synced(live_server, tmp_path, item_of(picture))
    original = Image.open(picture)
    copies = {
        "rot90": original.rotate(90, expand=True),
        "rot270": original.rotate(-90, expand=True),
        "mirror": original.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    }
    paths = []
    for name, image in copies.items():
        paths.append(tmp_path / f"{name}.jpg")
        image.save(paths[-1], format="JPEG", quality=85)
    code, results = check(db, *paths)
    assert code == 1
    listed = item_of(picture).hashes["pdq"]
    for result in results:
        assert result["verdict"] == "match" and result["match"] is True, result["path"]
        (pdq,) = [m for m in result["matches"] if m["algorithm"] == "pdq"]
        # The listed value (what feedback names), found through a dihedral variant.
        assert pdq["value"] == listed and pdq["distance"] <= 31
        assert pdq["variant"] != "orig"
        assert hamming_distance(result["hashes"]["pdq"], listed) > 31  # a miss without it
    # As check was before: the rotated copies pass as clean.
    plain = toolkit("check", "--db", str(db), "--no-dihedral", *map(str, paths[:2]))
    assert plain.returncode == 0
    assert [json.loads(line)["verdict"] for line in plain.stdout.splitlines()] == ["no_match"] * 2


def test_check_catches_a_video_by_its_digests_and_a_listed_photo_in_its_frames(
    live_server, tmp_path
):
    victim_clip = encode_clip(
        tmp_path / "victim.mp4", [Image.open(draw_image(tmp_path / "v.png", 6))]
    )
    photo = draw_image(tmp_path / "photo.png", 7)
    record = video_record(victim_clip)
    created, db = synced(
        live_server,
        tmp_path,
        cases.SubmittedItem(
            media_kind="video", hashes={"md5": record["md5"], "sha256": record["sha256"]}
        ),
        item_of(photo),
    )
    unrelated = Image.open(draw_image(tmp_path / "u.png", 8))
    # Someone cuts the victim's photo into a clip between unrelated footage.
    spliced = encode_clip(tmp_path / "spliced.mp4", [unrelated, Image.open(photo), unrelated])
    other = encode_clip(tmp_path / "other.mp4", [unrelated])
    code, results = check(db, victim_clip, spliced, other)
    assert code == 1
    same, with_photo, clean = results
    assert same["media"] == "video" and same["verdict"] == "match"
    assert {(m["algorithm"], m["media_kind"]) for m in same["matches"]} == {
        ("md5", "video"),
        ("sha256", "video"),
    }
    assert with_photo["verdict"] == "match"
    (frame_hit,) = with_photo["matches"]
    assert frame_hit["algorithm"] == "pdq" and frame_hit["value"] == item_of(photo).hashes["pdq"]
    assert frame_hit["distance"] <= 31 and 2.0 <= frame_hit["timestamp"] < 4.0
    assert frame_hit["frames_matched"] >= 2 and 20 <= frame_hit["video_match_percent"] <= 50
    assert clean["verdict"] == "no_match" and clean["matches"] == []
    # The check output goes straight back as feedback: the video's digests and the photo.
    results_file = tmp_path / "results.jsonl"
    results_file.write_text("".join(json.dumps(r) + "\n" for r in results))
    sent = toolkit(
        "feedback", "--db", str(db), "--api-key", created.api_key.raw,
        "--outcome", "blocked", str(results_file),
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["summary"] == {"recorded": 3}

    # serve-index answers the same lookup from the record python -m hashing prints.
    with index_server(db) as post:
        status, body = post({"hashes": video_record(spliced)})
        assert status == 200 and body["verdict"] == "match"
        assert [m["value"] for m in body["matches"]] == [frame_hit["value"]]
        status, body = post({"hashes": {"vpdq": [{"pdq": "zz"}]}})
        assert status == 400 and body["code"] == "bad_hash"


def test_a_phash_only_hit_on_a_low_quality_upload_needs_review(live_server, tmp_path):
    # A blurred picture: too little detail for PDQ (quality < 50), so the victim's item
    # carries no PDQ, and an upload of it matches on the 64-bit pHash alone.
    image = Image.open(draw_image(tmp_path / "b.png", 0, shapes=6))
    image = image.filter(ImageFilter.GaussianBlur(10))
    listed = tmp_path / "blurred.png"
    image.save(listed)
    record = hashing.hash_image(listed)
    assert record["pdq_quality"] < 50
    item = cases.SubmittedItem(
        media_kind="image", hashes={k: record[k] for k in ("phash", "md5", "sha256")}
    )
    _, db = synced(live_server, tmp_path, item)
    upload = tmp_path / "upload.jpg"
    image.resize((240, 180)).save(upload, format="JPEG", quality=80)
    code, (result,) = check(db, upload)
    assert code == 3
    assert result["verdict"] == "needs_review"
    assert result["match"] is False and result["needs_review"] is True
    assert {m["algorithm"] for m in result["matches"]} == {"phash"}
    # The same file is an exact match: the digest is not weak evidence.
    code, (exact,) = check(db, listed)
    assert code == 1 and exact["verdict"] == "match"


def test_feedback_reports_what_check_found_without_hand_written_json(live_server, tmp_path):
    picture = draw_image(tmp_path / "p.png", 9)
    created, db = synced(live_server, tmp_path, item_of(picture))
    case = SubmittedHash.objects.get(value=item_of(picture).hashes["pdq"]).case
    upload = tmp_path / "upload.jpg"
    Image.open(picture).rotate(90, expand=True).save(upload, format="JPEG", quality=85)
    done = toolkit("check", "--db", str(db), str(upload))
    results = tmp_path / "result.jsonl"
    results.write_text(done.stdout)
    key = ["--api-key", created.api_key.raw]

    sent = toolkit("feedback", "--db", str(db), *key, "--outcome", "blocked", str(results))
    assert sent.returncode == 0, sent.stderr
    answer = json.loads(sent.stdout)
    # Every hash check listed (the listed values, not the rotated upload's own hash).
    assert answer["summary"] == {"recorded": len(json.loads(done.stdout)["matches"])}
    assert case_distribution(case=case).feedback["blocked"] == 1

    # One hash by hand, from stdin's check output, and a value that isn't listed.
    pdq = item_of(picture).hashes["pdq"]
    review = subprocess.run(
        [*TOOLKIT, "feedback", "--db", str(db), *key, "--outcome", "not-violating", "-"],
        input=done.stdout,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert review.returncode == 0, review.stderr
    assert case_distribution(case=case).feedback["not_violating"] == 1
    own = json.loads(done.stdout)["hashes"]["pdq"]
    mixed = toolkit(
        "feedback", "--base-url", live_server.url, *key, "--outcome", "pending-review",
        f"pdq:{pdq.upper()}", f"pdq:{own}",
    )  # fmt: skip
    assert mixed.returncode == 2
    assert json.loads(mixed.stdout)["summary"] == {"recorded": 1, "unknown_hash": 1}
    assert f"pdq:{own} is not in the list" in mixed.stderr
    bad = toolkit("feedback", "--db", str(db), *key, "--outcome", "blocked", "pdq:123")
    assert bad.returncode == 2 and "pdq" in bad.stderr


def test_base_url_is_the_site_root_or_its_api_v1_and_a_404_says_which(live_server, tmp_path):
    created = platforms.platform_create(name="Small Platform")
    cases.case_create(items=[item_of(draw_image(tmp_path / "p.png", 10))])
    key = created.api_key.raw
    db = tmp_path / "hashes.db"
    done = toolkit(*sync_args_url(f"{live_server.url}/api/v1/", key, db))
    assert done.returncode == 0, done.stderr
    # The same server either way: the store follows it whichever form is given.
    again = toolkit(*sync_args_url(live_server.url, key, db))
    assert again.returncode == 0, again.stderr
    wrong = toolkit(*sync_args_url(f"{live_server.url}/api", key, tmp_path / "other.db"))
    assert wrong.returncode == 2
    assert "404" in wrong.stderr and "Expected the site root" in wrong.stderr
    assert "/api/v1" in wrong.stderr


def test_progress_is_printed_once_when_output_is_a_pipe(live_server, tmp_path):
    created = platforms.platform_create(name="Small Platform")
    cases.case_create(items=[item_of(draw_image(tmp_path / "p.png", 11))])
    done = toolkit(*sync_args(live_server, created.api_key.raw, tmp_path / "h.db"))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [line.split()[0] for line in lines] == ["snapshot", "feed"], lines


def sync_args_url(url: str, key: str, db: Path) -> list[str]:
    return ["sync", "--base-url", url, "--api-key", key, "--db", str(db), "--quiet"]


def video_record(path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "hashing", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@contextlib.contextmanager
def index_server(db: Path):
    """`serve-index` on a free port; yields post(body) -> (status, json)."""
    port = free_port()
    server = subprocess.Popen(
        [*TOOLKIT, "serve-index", "--db", str(db), "--port", str(port)],
        cwd=ROOT,
    )

    def post(body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/check",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield post
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_sync_keeps_a_videos_frames_with_their_numbers_and_times(live_server, tmp_path):
    from tests.support.factories import SubmittedItemFactory

    video = SubmittedItemFactory.build(video=True, frames=3)
    created, db = synced(live_server, tmp_path, video)
    with sqlite3.connect(db) as conn:
        frames = list(
            conn.execute(
                "SELECT frame, timestamp, value, item_id FROM hashes "
                "WHERE frame IS NOT NULL ORDER BY frame"
            )
        )
    assert [(f, t, v) for f, t, v, _ in frames] == [
        (f.frame, f.timestamp, f.pdq) for f in video.vpdq
    ]
    assert len({item for *_, item in frames}) == 1  # one video: one item pseudonym
    # The feed carries them as the snapshot did: withdraw, then the frames leave the store.
    cases.case_withdraw(case=SubmittedHash.objects.get(algorithm="sha256", media_kind="video").case)
    done = toolkit(*sync_args(live_server, created.api_key.raw, db, "--quiet"))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM hashes WHERE frame IS NOT NULL").fetchone() == (
            0,
        )


def test_a_store_of_schema_1_is_upgraded_in_place(tmp_path):
    from hashing.platform.store import Entry, Store

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '1'), ('cursor', 'c1');"
            "CREATE TABLE hashes (id INTEGER PRIMARY KEY, algorithm TEXT NOT NULL,"
            " value TEXT NOT NULL, media_kind TEXT NOT NULL, quality INTEGER,"
            " case_id TEXT NOT NULL, item_id TEXT NOT NULL, seq INTEGER NOT NULL,"
            " UNIQUE (algorithm, value, case_id, item_id));"
            "INSERT INTO hashes VALUES (1, 'md5', 'ab', 'image', NULL, 'c', 'i', 7);"
        )
    with Store(db) as store:
        assert store.meta_get("schema_version") == "2" and store.meta_get("cursor") == "c1"
        with store.transaction():
            store.add([Entry(8, "pdq", "cd", "video", 90, "c", "j", frame=30, timestamp=1.0)])
        assert store.dump() == [
            ("md5", "ab", "image", None, "c", "i", 7, None, None),
            ("pdq", "cd", "video", 90, "c", "j", 8, 30, 1.0),
        ]


def test_check_matches_reencoded_trimmed_and_letterboxed_copies_of_a_listed_video(
    live_server, tmp_path
):
    """vPDQ video to video: the store's frame rows grouped by item, compared as a whole."""
    from hashing.video import hash_video
    from tests.hashing.test_video import COPIES, ORIGINAL, UNRELATED_SCENES, Clip, clip_bytes

    listed = hash_video(clip_bytes(ORIGINAL))
    created, db = synced(live_server, tmp_path, cases.item_from_record(record=listed.record()))
    clips = {
        "original": ORIGINAL,
        **{name: COPIES[name] for name in ("hevc-mov", "low-bitrate", "half-size")},
        **{name: COPIES[name] for name in ("larger-25fps", "trimmed-start", "trimmed-both")},
        "letterbox-2": Clip(letterbox=2),
        "letterbox-12": Clip(letterbox=12),
        "unrelated": Clip(scenes=UNRELATED_SCENES),
    }
    paths = []
    for name, clip in clips.items():
        paths.append(tmp_path / f"{name}.{clip.container}")
        paths[-1].write_bytes(clip_bytes(clip))
    code, results = check(db, *paths)
    assert code == 1
    by_name = dict(zip(clips, results, strict=True))
    items = set()
    for name, result in by_name.items():
        videos = [m for m in result["matches"] if m["algorithm"] == "vpdq"]
        if name in ("letterbox-12", "unrelated"):
            assert result["verdict"] == "no_match" and result["matches"] == [], (name, result)
            continue
        assert result["verdict"] == "match", (name, result)
        (video,) = videos
        assert video["query_match_percent"] >= 80.0, (name, video)
        assert video["md5"] == listed.md5 and video["media_kind"] == "video"
        assert video["compared_frames"] == len(listed.frames)
        items.add((video["case_id"], video["item_id"]))
        digests = {m["algorithm"] for m in result["matches"] if m["algorithm"] != "vpdq"}
        assert digests == ({"md5", "sha256"} if name == "original" else set()), name
    assert len(items) == 1
    original = next(m for m in by_name["original"]["matches"] if m["algorithm"] == "vpdq")
    assert original["query_match_percent"] == original["compared_match_percent"] == 100.0
    trimmed = next(m for m in by_name["trimmed-both"]["matches"] if m["algorithm"] == "vpdq")
    assert trimmed["compared_match_percent"] < 100.0

    # Stricter vPDQ thresholds: the trimmed copy no longer covers the whole listed video.
    done = toolkit(
        "check", "--db", str(db), "--vpdq-compared-percent", "100",
        str(tmp_path / "trimmed-both.mp4"),
    )  # fmt: skip
    assert done.returncode == 0 and json.loads(done.stdout)["verdict"] == "no_match"

    # The check output goes back as feedback on the listed video's MD5.
    results_file = tmp_path / "results.jsonl"
    results_file.write_text(json.dumps(by_name["half-size"]) + "\n")
    sent = toolkit(
        "feedback", "--db", str(db), "--api-key", created.api_key.raw,
        "--outcome", "blocked", str(results_file),
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["results"][0]["algorithm"] == "md5"
    assert json.loads(sent.stdout)["summary"] == {"recorded": 1}

    # serve-index answers the same for the record python -m hashing prints.
    with index_server(db) as post:
        status, body = post({"hashes": video_record(tmp_path / "low-bitrate.mp4")})
        assert status == 200 and body["verdict"] == "match"
        assert [m["algorithm"] for m in body["matches"]] == ["vpdq"]
        status, body = post({"hashes": video_record(tmp_path / "unrelated.mp4")})
        assert status == 200 and body["verdict"] == "no_match"
        frame = {"frame": 10**400, "timestamp": 0, "pdq": "f" * 64, "quality": 100}
        status, body = post({"hashes": {"vpdq": [frame]}})
        assert status == 400 and body["code"] == "bad_hash"


def test_an_image_check_hitting_a_listed_videos_frame_says_which(live_server, tmp_path):
    from tests.support.factories import SubmittedItemFactory

    video = SubmittedItemFactory.build(video=True, frames=3)
    _, db = synced(live_server, tmp_path, video)
    frame = video.vpdq[1]
    with index_server(db) as post:
        status, body = post({"hashes": {"pdq": frame.pdq}})
    assert status == 200 and body["verdict"] == "match"
    (hit,) = body["matches"]
    assert hit["media_kind"] == "video" and hit["value"] == frame.pdq
    assert (hit["frame"], hit["timestamp"]) == (frame.frame, frame.timestamp)
