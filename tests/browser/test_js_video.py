"""hashing/js/video.js in Chromium: vPDQ and digests of videos, against hashing/video.py.

The clips are the server's parity clips (tests/hashing/test_video_parity.py, made with PyAV)
that a browser can demux and decode: HEVC (no decoder in Debian's Chromium), MPEG-4 Part 2
and Motion JPEG in AVI (no AVI demuxer, no WebCodecs decoder) are refused with a clear
error instead, and hashed on the server. Each clip is hashed in a Worker of the test's own
(video_worker.js, loading video.js as a portal Worker would) and by the server; the
figures per clip (frames compared, bits apart, exact count) go to
test-artifacts/browser-video-parity.{json,md}.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hashing.video import VideoHash, VpdqFrame, hash_video, vpdq_match
from tests.browser.conftest import Site
from tests.hashing.test_video import COPIES, ORIGINAL, UNRELATED_SCENES, Clip, clip_bytes
from tests.hashing.test_video_parity import PARITY_CLIPS

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
# The parity clips a browser cannot read: its error says so, and the server hashes them.
NOT_IN_BROWSERS = ("hevc-mp4", "hevc-10bit", "mpeg4-avi", "mjpeg-avi")
BROWSER_CLIPS = {name: clip for name, clip in PARITY_CLIPS.items() if name not in NOT_IN_BROWSERS}
# libvpx's default VP8 speed takes 7 s of CPU for this 3-second clip; its real-time mode
# makes the same kind of stream (VP8, 300 kbit/s) in 0.8 s.
BROWSER_CLIPS["vp8-webm"] = replace(
    BROWSER_CLIPS["vp8-webm"], options={"deadline": "realtime", "cpu-used": "8"}
)
# An odd width, and (VP9 allows them) an odd height with frames small enough for pdq.js.
BROWSER_CLIPS["vp9-odd-width-webm"] = replace(BROWSER_CLIPS["vp9-webm"], size=(161, 120))
BROWSER_CLIPS["vp9-tiny-webm"] = replace(BROWSER_CLIPS["vp9-webm"], size=(61, 45))
# Played through the <video> element fallback too (it seeks frame by frame: a few clips).
ELEMENT_CLIPS = ("h264-mp4", "h264-29.97fps", "vp9-webm", "av1-mkv")
EXTENSIONS = {"mp4": "mp4", "mov": "mov", "matroska": "mkv", "webm": "webm", "avi": "avi"}


def _name(name: str, clip: Clip) -> str:
    return f"video/{name}.{EXTENSIONS[clip.container]}"


@pytest.fixture(scope="module")
def video_page(chromium, hashing_site: Site) -> Any:
    """The video harness page (its own Worker), on the shared test site."""
    hashing_site.add("video.html", (HERE / "video_page.html").read_bytes())
    hashing_site.add("video_worker.js", (HERE / "video_worker.js").read_bytes())
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(hashing_site.url + "/video.html")
    page.wait_for_function("window.takebackVideoReady === true", timeout=30_000)
    assert errors == []
    try:
        yield page
    finally:
        context.close()


_SERVER: dict[str, VideoHash] = {}


def _server(clip: Clip) -> VideoHash:
    """The server's hash of the clip, once per session (keyed by repr: Clip holds a dict)."""
    key = repr(clip)
    if key not in _SERVER:
        _SERVER[key] = hash_video(clip_bytes(clip))
    return _SERVER[key]


def _serve(site: Site, name: str, clip: Clip) -> str:
    return site.add(_name(name, clip), clip_bytes(clip))


IN_WORKER = """([url, options, recordOnly]) =>
    window.takebackVideo.inWorker(url, url.split('/').pop(), '', options, recordOnly)"""


def _in_worker(page: Any, url: str, options: dict | None = None, record_only: bool = False) -> dict:
    return page.evaluate(IN_WORKER, [url, options or {}, record_only])


def _with_element(page: Any, url: str) -> dict:
    return page.evaluate(
        "(url) => window.takebackVideo.withElement(url, url.split('/').pop(), '')", url
    )


def _bits(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _frames(entries: list[dict]) -> list[VpdqFrame]:
    return [VpdqFrame.from_dict(entry) for entry in entries]


def _compare(name: str, server: VideoHash, browser_sampled: list[dict], kept: list[dict]) -> dict:
    """Figures for one clip; the frame lists must match under the vPDQ rule both ways."""
    bits = [_bits(b["pdq"], s.pdq) for b, s in zip(browser_sampled, server.sampled, strict=True)]
    both = vpdq_match(_frames(kept), server.frames)
    back = vpdq_match(server.frames, _frames(kept))
    row = {
        "clip": name,
        "frames_compared": len(bits),
        "exact": sum(1 for d in bits if d == 0),
        "bits_apart": bits,
        "max_bits": max(bits),
        "browser_matches_server_percent": both.query_match_percent,
        "server_matches_browser_percent": back.query_match_percent,
    }
    assert both.query_match_percent >= 80 and both.compared_match_percent >= 80, row
    assert back.query_match_percent >= 80 and back.compared_match_percent >= 80, row
    return row


def _write_artifact(artifacts_dir: Path, stem: str, title: str, rows: list[dict]) -> None:
    (artifacts_dir / f"{stem}.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        f"# {title}",
        "",
        "| clip | frames compared | exact | bits apart | browser→server % | server→browser % |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        bits = " ".join(map(str, row["bits_apart"]))
        lines.append(
            f"| {row['clip']} | {row['frames_compared']} | {row['exact']} | {bits} | "
            f"{row['browser_matches_server_percent']:.0f} | "
            f"{row['server_matches_browser_percent']:.0f} |"
        )
    total = sum(r["frames_compared"] for r in rows)
    exact = sum(r["exact"] for r in rows)
    worst = max(r["max_bits"] for r in rows)
    lines += ["", f"{total} frames compared, {exact} exact, at most {worst} bits apart."]
    (artifacts_dir / f"{stem}.md").write_text("\n".join(lines) + "\n")


def test_browser_vpdq_is_the_servers_on_every_clip(
    video_page, hashing_site: Site, artifacts_dir: Path
) -> None:
    rows = []
    for name, clip in BROWSER_CLIPS.items():
        server = _server(clip)
        got = _in_worker(video_page, _serve(hashing_site, name, clip))
        assert got["ok"], (name, got)
        result = got["result"]
        record = result["record"]
        # Same frames, timestamps, digests and duration as the server; PDQs within 2 bits.
        assert result["frameRate"] == server.frame_rate, name
        sampled = result["sampled"]
        assert [f["frame"] for f in sampled] == [f.frame for f in server.sampled], name
        assert [f["timestamp"] for f in record["vpdq"]] == [
            f["timestamp"] for f in server.record()["vpdq"]
        ], name
        expected = server.record()
        assert {k: record[k] for k in ("media", "md5", "sha256", "duration")} == {
            k: expected[k] for k in ("media", "md5", "sha256", "duration")
        }, name
        row = _compare(name, server, sampled, record["vpdq"])
        row["codec"] = result["codec"]
        row["frames_decoded"] = {
            "browser": result["framesDecoded"],
            "server": server.frames_decoded,
        }
        rows.append(row)
        assert row["max_bits"] <= 2, row
    _write_artifact(
        artifacts_dir, "browser-video-parity", "vPDQ: browser (WebCodecs) against the server", rows
    )
    exact = sum(r["exact"] for r in rows)
    total = sum(r["frames_compared"] for r in rows)
    print(f"browser vPDQ parity: {exact} of {total} frames exact over {len(rows)} clips")
    # Exact wherever swscale takes its yuv2rgb fast path, which video-pixels.js reproduces:
    # 8-bit frames of even height. 10-bit frames (converted here in floating point) and odd
    # heights (swscale's generic scaler, chroma interpolated between rows) come within 2 bits.
    approximate = ("h264-10bit", "vp9-tiny-webm")
    assert all(r["exact"] == r["frames_compared"] for r in rows if r["clip"] not in approximate)


def test_the_worker_call_gives_the_cli_record(video_page, hashing_site: Site) -> None:
    url = _serve(hashing_site, "h264-mp4", ORIGINAL)
    got = _in_worker(video_page, url, record_only=True)
    assert got["ok"], got
    assert got["result"] == {"record": _server(ORIGINAL).record()}
    stages = {p["stage"] for p in got["progress"]}
    assert "done" in stages and got["progressCount"] >= 3
    # Without the helper Worker (frames hashed on the calling thread): the same record.
    inline = _in_worker(video_page, url, {"frameWorker": False}, record_only=True)
    assert inline["result"] == got["result"]


def test_element_fallback_matches_the_server(
    video_page, hashing_site: Site, artifacts_dir: Path
) -> None:
    rows = []
    for name in ELEMENT_CLIPS:
        clip = BROWSER_CLIPS[name]
        server = _server(clip)
        got = _with_element(video_page, _serve(hashing_site, name, clip))
        assert got["ok"], (name, got)
        record = got["result"]["record"]
        assert record["md5"] == server.md5 and record["sha256"] == server.sha256
        kept = record["vpdq"]
        # Kept frames only (the fallback has no `sampled`); every clip here keeps them all.
        assert [f["frame"] for f in kept] == [f.frame for f in server.frames], name
        rows.append(_compare(name, server, kept, kept))
    _write_artifact(
        artifacts_dir,
        "browser-video-element-parity",
        "vPDQ: browser <video> element fallback against the server",
        rows,
    )


def test_a_reencoded_copy_hashed_in_the_browser_matches_and_an_unrelated_clip_does_not(
    video_page, hashing_site: Site
) -> None:
    original = _server(ORIGINAL)
    copy = _in_worker(video_page, _serve(hashing_site, "copy-vp9", COPIES["vp9-webm"]))
    unrelated_clip = Clip(scenes=UNRELATED_SCENES)
    unrelated = _in_worker(video_page, _serve(hashing_site, "unrelated", unrelated_clip))
    assert vpdq_match(_frames(copy["result"]["record"]["vpdq"]), original.frames).match
    result = vpdq_match(_frames(unrelated["result"]["record"]["vpdq"]), original.frames)
    assert not result.match and result.query_match_percent == 0


@pytest.mark.parametrize("name", NOT_IN_BROWSERS)
def test_videos_a_browser_cannot_read_say_so(video_page, hashing_site: Site, name: str) -> None:
    clip = PARITY_CLIPS[name]
    got = _in_worker(video_page, _serve(hashing_site, name, clip))
    assert got["ok"] is False and got["code"] == "unsupported", got
    assert "server-side hashing" in got["message"]
    # HEVC in MP4 is demuxed but has no decoder here: the page may try the <video> element.
    assert got["fallback"] == ("element" if name.startswith("hevc") else None)


def test_damaged_and_non_video_files_are_clear_errors(video_page, hashing_site: Site) -> None:
    data = clip_bytes(ORIGINAL)
    truncated = _in_worker(video_page, hashing_site.add("video/truncated.mp4", data[:2000]))
    assert truncated["ok"] is False and truncated["code"] == "unreadable", truncated
    text = _in_worker(video_page, hashing_site.add("video/notes.mp4", b"not a video at all" * 10))
    assert text["ok"] is False and text["code"] == "unsupported", text


def test_limits_are_checked_before_decoding(video_page, hashing_site: Site) -> None:
    url = _serve(hashing_site, "h264-mp4", ORIGINAL)
    frames = _in_worker(video_page, url, {"limits": {"maxFrames": 100}})
    assert frames["code"] == "too-large" and "frames" in frames["message"], frames
    size = _in_worker(video_page, url, {"limits": {"maxBytes": 1000}})
    assert size["code"] == "too-large" and "MB" in size["message"], size
    pixels = _in_worker(video_page, url, {"limits": {"maxPixels": 320 * 239}})
    assert pixels["code"] == "too-large" and "320x240" in pixels["message"], pixels
    seconds = _in_worker(video_page, url, {"limits": {"maxSeconds": 5}})
    assert seconds["code"] == "too-large" and "long" in seconds["message"], seconds


def test_hashing_can_be_cancelled(video_page, hashing_site: Site) -> None:
    url = _serve(hashing_site, "h264-mp4", ORIGINAL)
    got = _in_worker(video_page, url, {"abortOnFrames": True})
    assert got["ok"] is False and got["code"] == "AbortError", got


def test_a_large_file_is_streamed(video_page, hashing_site: Site) -> None:
    """Over 64 MB the digests stream in chunks; the demuxer reads only the boxes it needs
    (here an 80 MB `free` box after the clip, which a valid MP4 may carry)."""
    padding = 80 * 1024 * 1024
    data = clip_bytes(ORIGINAL) + (8 + padding).to_bytes(4, "big") + b"free" + bytes(padding)
    got = _in_worker(video_page, hashing_site.add("video/large.mp4", data), record_only=True)
    assert got["ok"], got
    assert got["result"]["record"] == hash_video(data).record()


def test_the_small_helpers_agree_with_ffmpeg_and_python(video_page) -> None:
    values = [0.0625, 0.1875, 1.0005, 2.0025, 0.9843166470527649, 3.003, 1 / 3, 2.5e-4]
    got = video_page.evaluate(
        """(values) => {
            const v = window.takebackVideo.video;
            return {
                reduced: [
                    v.avReduce(1e9, 33366667, 30000), v.avReduce(1e9, 33333333, 30000),
                    v.avReduce(1e9, 41708333, 30000), v.avReduce(30 * 15360, 512 * 30, 2 ** 31 - 1),
                ],
                rates: [v.standardRate(29.946), v.standardRate(24.9), v.standardRate(23.976),
                        v.standardRate(12.53), v.standardRate(33.3), v.standardRate(70.5)],
                rounded: values.map(v.roundMillis),
                sniffed: [[0x1a, 0x45, 0xdf, 0xa3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                          [0, 0, 0, 24, 102, 116, 121, 112, 105, 115, 111, 109, 0, 0, 0, 0],
                          [0, 0, 0, 24, 102, 116, 121, 112, 104, 101, 105, 99, 0, 0, 0, 0]]
                    .map((head) => v.sniffContainer(new Uint8Array(head))),
            };
        }""",
        values,
    )
    # av_reduce as FFmpeg's matroska demuxer calls it: 30000/1001, 30/1, 24000/1001, 30/1.
    assert got["reduced"] == [[30000, 1001], [30, 1], [24000, 1001], [30, 1]]
    # Whole rates within 0.5% first (so 23.976 counts as 24), else FFmpeg's standard rates
    # within 1% (12.5 = 150/12), else the estimate itself.
    assert got["rates"] == [30, 25, 24, 12.5, 33, 70.5]
    assert got["rounded"] == [round(v, 3) for v in values]
    assert got["sniffed"] == ["matroska", "mp4", None]
