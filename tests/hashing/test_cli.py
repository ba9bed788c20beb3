"""``python -m hashing FILE...`` and the ``takeback-hash`` console script, run for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.conformance import PDQ_DATA, PDQ_DIR, pdq_generated_rows

ROOT = Path(__file__).resolve().parents[2]


def _run(
    *args: str | Path, executable: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [*(executable or [sys.executable, "-m", "hashing"]), *map(str, args)]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_prints_one_json_object_per_file_with_lower_case_hex() -> None:
    rows = [row for row in pdq_generated_rows() if "bridge-mods" in row["image"]][:3]
    paths = [PDQ_DIR / row["image"] for row in rows]
    result = _run(*paths)
    assert result.returncode == 0, result.stderr
    records = _lines(result.stdout)
    assert len(records) == 3
    for record, row, path in zip(records, rows, paths, strict=True):
        assert list(record) == [
            "path",
            "media",
            "md5",
            "sha256",
            "pdq",
            "pdq_quality",
            "phash",
            "dhash",
        ]
        assert record["path"] == str(path)
        assert record["media"] == "image"
        assert record["pdq"] == row["pdq_full_exif_applied"]
        assert record["pdq_quality"] == int(row["quality_full_exif_applied"])
        for key in ("md5", "sha256", "pdq", "phash", "dhash"):
            value = record[key]
            assert isinstance(value, str) and value == value.lower()


def test_bad_files_get_an_error_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    good = PDQ_DATA / "misc-images" / "wee.jpg"
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:400])
    missing = tmp_path / "missing.png"
    result = _run(junk, good, truncated, missing)
    assert result.returncode == 1
    records = _lines(result.stdout)
    assert [record["path"] for record in records] == [
        str(junk),
        str(good),
        str(truncated),
        str(missing),
    ]
    assert set(records[0]) == {"path", "error"}
    assert "not an image format" in str(records[0]["error"])
    assert records[1]["pdq"] == "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"
    assert "damaged" in str(records[2]["error"])
    assert records[3] == {"path": str(missing), "error": "No such file."}
    assert "Traceback" not in result.stderr


def test_dihedral_flag_adds_the_eight_variants() -> None:
    original = PDQ_DATA / "reg-test-input" / "dih" / "bridge-1-original.jpg"
    result = _run("--dihedral", original)
    assert result.returncode == 0, result.stderr
    (record,) = _lines(result.stdout)
    variants = record["pdq_dihedral"]
    assert isinstance(variants, dict)
    assert list(variants) == [
        "orig",
        "rot90",
        "rot180",
        "rot270",
        "flipv",
        "fliph",
        "rot90_flipv",
        "rot90_fliph",
    ]
    assert variants["orig"] == record["pdq"]
    assert variants["rot90"] == "30a10efd71c83f429013d48d0ffffc52e34e0e17ada952a9d29685211ea9e5af"


def test_decompression_bomb_is_reported_not_decoded(tmp_path: Path) -> None:
    from tests.hashing.test_decode import _png_with_declared_size

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_with_declared_size(50_000, 50_000))
    result = _run(bomb)
    assert result.returncode == 1
    (record,) = _lines(result.stdout)
    assert "too large" in str(record["error"])


def test_console_script_is_the_same_entry_point() -> None:
    script = Path(sys.executable).parent / "takeback-hash"
    assert script.exists(), "pip install -e . declares takeback-hash = hashing.__main__:main"
    wee = PDQ_DATA / "misc-images" / "wee.jpg"
    assert _run(wee, executable=[str(script)]).stdout == _run(wee).stdout


def test_usage_error_without_files() -> None:
    result = _run()
    assert result.returncode == 2
    assert "FILE" in result.stderr


def test_videos_get_the_video_record_and_images_keep_theirs(tmp_path: Path) -> None:
    from hashing.video import hash_video
    from tests.hashing.test_video import ORIGINAL, write_clip

    clip = write_clip(ORIGINAL, tmp_path, "clip")
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(clip.read_bytes()[:3000])
    wee = PDQ_DATA / "misc-images" / "wee.jpg"
    result = _run(clip, wee, damaged)
    assert result.returncode == 1
    video, image, broken = _lines(result.stdout)
    assert list(video) == ["path", "media", "md5", "sha256", "duration", "vpdq"]
    assert video == {"path": str(clip), **hash_video(clip).record()}
    assert video["media"] == "video"
    frames = video["vpdq"]
    assert isinstance(frames, list) and len(frames) == 6
    assert frames[1] == {
        "frame": 30,
        "timestamp": 1.0,
        "pdq": frames[1]["pdq"],
        "quality": 100,
    }
    assert image["media"] == "image"
    assert image["pdq"] == "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"
    assert set(broken) == {"path", "error"}
    assert "damaged" in str(broken["error"])
