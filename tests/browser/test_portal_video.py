"""Videos through the victim's pages (issue 11), in Debian's Chromium on the live server.

Browser path: a photo and a video in one selection, the video hashed on the device
(hashing/js video.js in a Worker: digests and vPDQ frames) with progress "frame N of M",
a cancel for the file and for the whole selection, the frames stored equal (within the
browser/server parity) to hashing.video.hash_video of the same file. A HEVC video, which
this Chromium can't decode, is hashed on the server inside the same submission. Server
path: a video with JavaScript off, and the byte scan proving it left no trace. axe-core
finds nothing serious on the changed pages; each is saved at 360 and 1280 px.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from hashing.video import VideoHash, hash_video, vpdq_match
from portal.cases.models import Case, SubmittedHash
from tests.browser import test_portal_common as common
from tests.browser import test_portal_server_hashing as trace
from tests.browser.test_portal_a11y import AXE, RUN_AXE
from tests.browser.test_portal_common import DESKTOP, PHONE, eligibility
from tests.hashing.test_video import Clip, clip_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

images = common.images
portal_page = common.portal_page
no_js_page = common.no_js_page

CLIPS = {
    "h264-mp4": Clip(seconds_per_scene=1.0),
    "vp9-webm": Clip(
        codec="libvpx-vp9",
        container="webm",
        seconds_per_scene=1.0,
        options={"crf": "40", "b": "0", "deadline": "realtime", "cpu-used": "8"},
    ),
}
HEVC = Clip(codec="libx265", seconds_per_scene=1.0, options={"x265-params": "log-level=error"})
# Long enough (20 s, 600 frames of 640x480) to be cancelled while it is hashed.
LONG = Clip(size=(640, 480), seconds_per_scene=20 / 3)
# Records every status line a file shows, so a short video's progress can't be missed.
WATCH_STATUSES = """() => {
    window.statusLog = [];
    new MutationObserver(() => {
        for (const s of document.querySelectorAll('#file-list .file-status'))
            if (s.textContent && window.statusLog.at(-1) !== s.textContent)
                window.statusLog.push(s.textContent);
    }).observe(document.getElementById('file-list'),
               {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(params=[PHONE, DESKTOP], ids=["360", "1280"])
def checked_page(request, chromium, live_server, artifacts_dir):
    for portal in common._portal_page(chromium, live_server, artifacts_dir, request, request.param):
        portal.page.add_init_script(path=str(AXE))  # not subject to the page's CSP
        yield portal


def _check(portal: common.PortalPage, name: str) -> None:
    """axe-core finds nothing serious; no sideways scroll; a screenshot."""
    page = portal.page
    page.wait_for_load_state("load")
    assert page.evaluate(RUN_AXE) == [], name
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    portal.shot(name)


def _write(directory: Path, name: str, clip: Clip) -> Path:
    path = directory / name
    path.write_bytes(clip_bytes(clip))
    return path


def _stored(case: Case, sha256: str) -> list[SubmittedHash]:
    item = case.hashes.get(algorithm="sha256", value=sha256).item_id
    return list(case.hashes.filter(item_id=item).order_by("frame"))


def _assert_frames_match(rows: list[SubmittedHash], server: VideoHash, *, exact: bool) -> None:
    """The stored frames are the server's (exactly, or within the browser/server parity)."""
    frames = [r for r in rows if r.frame is not None]
    stored = [(r.frame, r.frame_timestamp) for r in frames]
    assert stored == [(f.frame, round(f.timestamp, 3)) for f in server.frames]
    bits = [
        (int(r.value, 16) ^ int(f.pdq, 16)).bit_count()
        for r, f in zip(frames, server.frames, strict=True)
    ]
    assert max(bits) == 0 if exact else max(bits) <= 2, bits
    from hashing.video import VpdqFrame

    ours = [VpdqFrame(r.frame, r.frame_timestamp, r.value, r.quality) for r in frames]
    both = vpdq_match(ours, server.frames)
    assert both.query_match_percent == 100 and both.compared_match_percent == 100


def _video_workers(page) -> int:
    return sum(1 for worker in page.workers if worker.url.endswith("/video-worker.js"))


def _wait_no_video_worker(page) -> None:
    for _ in range(50):
        if not _video_workers(page):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the video's Worker is still running after the cancel")


@pytest.mark.parametrize("kind", list(CLIPS))
def test_a_photo_and_a_video_are_hashed_on_this_device_and_submitted(
    checked_page, images, tmp_path, kind
) -> None:
    portal, page = checked_page, checked_page.page
    clip = CLIPS[kind]
    name = f"holiday.{clip.container}"
    video = _write(tmp_path, name, clip)
    server = hash_video(video)
    eligibility(portal)
    expect(page.locator("#files-hint")).to_contain_text("re-encoded or trimmed copies")
    _check(portal, f"{kind}-01-choose")
    page.evaluate(WATCH_STATUSES)
    portal.choose(images["beach"].path, video)
    portal.wait_hashed(2)
    entry = page.locator("#file-list .file").nth(1)
    expect(entry.locator(".file-status")).to_have_class(re.compile("is-ok"))
    expect(entry.locator(".file-status")).to_contain_text(f"of {len(server.frames)} of its frames")
    expect(entry.locator(".file-label")).to_have_text(server.sha256[:8])
    log = page.evaluate("window.statusLog")
    assert any(re.fullmatch(r"Making the video's fingerprints: frame \d+ of \d+", s) for s in log)
    page.locator("main details summary").click()
    assert '"vpdq"' in page.locator("#payload-preview").inner_text()
    _check(portal, f"{kind}-02-hashed")

    page.get_by_role("button", name="Submit fingerprints of 2 files").click()
    expect(page.locator("#created")).to_be_visible()
    row = page.locator("#created-files li").nth(1)
    expect(row).to_contain_text(f"{name}: {server.sha256[:8]}")
    expect(row).to_contain_text(f"video; frame fingerprints: {len(server.frames)}")
    _check(portal, f"{kind}-03-created")
    with page.expect_download() as download:
        page.get_by_role("button", name="Save as a text file").click()
    assert f"{name}: {server.sha256[:8]} (video" in download.value.path().read_text("utf-8")

    case = Case.objects.get()
    rows = _stored(case, server.sha256)
    digests = {r.algorithm: r.value for r in rows if r.frame is None}
    assert digests == {"md5": server.md5, "sha256": server.sha256}
    assert {r.media_kind for r in rows} == {"video"}
    # H.264 and VP9 at an even size: the browser's bits are the server's (hashing/js README).
    _assert_frames_match(rows, server, exact=True)

    page.get_by_label("I have saved my case number and PIN").check()
    page.locator("#status-link").click()
    page.wait_for_url("**/case/status/")
    item = page.locator(".case-item").nth(1)
    expect(item).to_contain_text(f"Video {server.sha256[:8]}")
    expect(item).to_contain_text(
        f"Shared: its exact fingerprints and {len(server.frames)} frame fingerprints"
    )
    _check(portal, f"{kind}-04-status")
    item.get_by_role("link", name="Withdraw").click()
    expect(page.locator("main")).to_contain_text(server.sha256[:8])
    _check(portal, f"{kind}-05-confirm-withdraw")
    page.get_by_role("button", name="Yes, withdraw").click()
    page.wait_for_url("**/case/status/")
    expect(page.locator(".case-item").nth(1)).to_contain_text("Withdrawn")
    assert {r.status for r in _stored(case, server.sha256)} == {"withdrawn"}
    assert case.hashes.filter(status="active").count() == 5  # the photo's


def test_a_selection_too_large_to_send_at_once_is_told_plainly(
    portal_page, images, tmp_path, settings
) -> None:
    portal, page = portal_page, portal_page.page
    # The live server runs in this process: a small JSON limit stands for many long videos.
    settings.TAKEBACK_JSON_MAX_BYTES = 600
    eligibility(portal)
    portal.choose(images["beach"].path, _write(tmp_path, "clip.mp4", CLIPS["h264-mp4"]))
    portal.wait_hashed(2)
    page.locator("#submit-button").click()
    expect(page.locator("#submit-error")).to_contain_text("too many to send at once")
    assert not Case.objects.exists()
    # Chromium logs the refused request itself; that one console line is expected.
    portal.errors[:] = [e for e in portal.errors if "status of 413" not in e]


def test_hashing_a_video_can_be_cancelled_for_one_file_or_the_whole_selection(
    portal_page, images, tmp_path
) -> None:
    portal, page = portal_page, portal_page.page
    video = _write(tmp_path, "long-video.mp4", LONG)
    eligibility(portal)
    portal.choose(video, images["beach"].path)
    entry = page.locator("#file-list .file").first
    expect(entry.locator(".file-status")).to_contain_text(re.compile(r"frame \d+ of \d+"))
    portal.shot("cancel-01-hashing")
    assert _video_workers(page) == 1
    entry.get_by_role("button", name="Cancel hashing long-video.mp4").click()
    expect(page.locator("#file-list .file")).to_have_count(1)
    _wait_no_video_worker(page)  # the Worker (and its decoder) ended with the cancel
    portal.wait_hashed(1)
    expect(page.locator("#submit-button")).to_have_text("Submit fingerprints of 1 file")

    # The whole selection: every file's hashing stops and the list empties.
    portal.choose(video)
    expect(page.locator("#file-list .file").nth(1).locator(".file-status")).to_contain_text(
        re.compile(r"frame \d+ of \d+")
    )
    page.get_by_role("button", name="Stop and remove all files").click()
    expect(page.locator("#file-list .file")).to_have_count(0)
    _wait_no_video_worker(page)
    expect(page.locator("#files-empty")).to_be_visible()
    expect(page.locator("#review")).to_be_hidden()
    # Nothing of the cancelled video comes back later.
    page.wait_for_timeout(1500)
    expect(page.locator("#file-list .file")).to_have_count(0)
    portal.shot("cancel-02-cleared")

    # And a video chosen afterwards is hashed normally.
    small = _write(tmp_path, "short.mp4", CLIPS["h264-mp4"])
    portal.choose(small)
    portal.wait_hashed(1)
    expect(page.locator("#file-list .file-status")).to_have_class(re.compile("is-ok"))
    assert not Case.objects.exists()


def test_a_hevc_video_is_hashed_on_the_server_inside_the_same_submission(
    checked_page, images, tmp_path
) -> None:
    portal, page = checked_page, checked_page.page
    video = _write(tmp_path, "phone.mp4", HEVC)
    server = hash_video(video)
    eligibility(portal)
    portal.choose(images["beach"].path, video)
    portal.wait_hashed(2)
    entry = page.locator("#file-list .file").nth(1)
    expect(entry.locator(".file-status")).to_contain_text("can't decode this kind of video")
    expect(entry.locator(".file-status")).to_have_class(re.compile("is-warning"))
    button = entry.get_by_role("button", name="Hash phone.mp4 on our server")
    expect(button).to_be_disabled()
    entry.get_by_label(re.compile("send this one file")).check()
    _check(portal, "hevc-01-consent")
    button.click()
    expect(entry.locator(".file-status")).to_have_class(re.compile("is-ok"))
    expect(page.locator("#files-summary")).to_have_text("2 of 2 files ready.")
    page.locator("#submit-button").click()
    expect(page.locator("#created")).to_be_visible()
    expect(page.locator("#created-files li").nth(1)).to_contain_text(
        f"video; frame fingerprints: {len(server.frames)}"
    )
    case = Case.objects.get()
    _assert_frames_match(_stored(case, server.sha256), server, exact=True)


def test_the_server_path_pages_with_a_video(checked_page, images, tmp_path) -> None:
    portal, page = checked_page, checked_page.page
    video = _write(tmp_path, "clip.mp4", CLIPS["h264-mp4"])
    server = hash_video(video)
    eligibility(portal)
    portal.go("/submit/on-server/")
    expect(page.locator("#upload-limits")).to_contain_text("each video up to 30 minutes")
    _check(portal, "server-01-choose")
    page.locator("input[name=files]").set_input_files([str(video), str(images["broken"].path)])
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Send for hashing").click()
    expect(page.locator("#upload-kept")).to_contain_text("clip.mp4")
    expect(page.locator("#upload-errors")).to_contain_text("broken.jpg")
    _check(portal, "server-02-kept")
    page.get_by_role("button", name="Continue with 1 file").click()
    page.wait_for_url("**/submit/on-server/done/")
    expect(page.locator("#created-files")).to_contain_text(
        f"video: exact fingerprints and {len(server.frames)} frame fingerprints"
    )
    _check(portal, "server-03-created")
    _assert_frames_match(_stored(Case.objects.get(), server.sha256), server, exact=True)


def test_a_video_hashed_on_the_server_without_javascript_leaves_no_trace(
    no_js_page, images, tmp_path, caplog, capfd
) -> None:
    portal, page = no_js_page, no_js_page.page
    caplog.set_level(logging.DEBUG)
    start = time.time() - 1
    # A clip of its own: no other file of the test (the `images` fixture's clip) holds its bytes.
    video = _write(tmp_path, "private-video.mp4", Clip(seconds_per_scene=1.2))
    data = video.read_bytes()
    runs = trace._runs(data)
    # The runs are the file's own: each occurs once in it, and none is padding.
    assert len(runs) == 4 and all(data.count(r) == 1 and len(set(r)) > 24 for r in runs)
    server = hash_video(data)

    eligibility(portal)
    page.get_by_role("link", name="Use server-side hashing instead").click()
    trace._upload(portal, [video, images["beach"].path])
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you. Your case is open.")
    portal.shot("nojs-created")
    case = Case.objects.get(number=page.locator("#secret-number").inner_text().strip())
    _assert_frames_match(_stored(case, server.sha256), server, exact=True)

    roots = [Path(tempfile.gettempdir()), Path(settings.VAR_DIR)]
    if settings.MEDIA_ROOT:
        roots.append(Path(settings.MEDIA_ROOT))
    assert trace._files_containing(runs, roots, start, {video}) == []
    assert trace._tables_containing(runs) == []
    captured = capfd.readouterr()
    assert trace._logs_containing(runs, caplog.records, captured.out + captured.err) == []
    # The scan can fail: a run written to disk is found.
    leak = Path(tempfile.gettempdir()) / f"takeback-video-leak-check-{time.time_ns()}"
    leak.write_bytes(b"head" + runs[2] + b"tail")
    try:
        assert trace._files_containing(runs, roots, start, {video}) == [leak]
    finally:
        leak.unlink()
