"""Videos on the server path (issue 11): hashed in memory with hash_video, limits told,
the kept field compact and bounded, shown on the created and status pages, withdrawn."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

import hashing
from hashing.video import hash_video
from portal.cases.models import Case
from portal.web import forms
from tests.hashing.test_video import Clip, clip_bytes
from tests.support.factories import SubmittedItemFactory, random_png

pytestmark = pytest.mark.django_db

H264 = Clip(seconds_per_scene=1.5)
HEVC = Clip(
    codec="libx265",
    container="mp4",
    seconds_per_scene=1.0,
    options={"x265-params": "log-level=error"},
)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


def _video(data: bytes, name: str = "clip.mp4") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="video/mp4")


def _stored_frames(case: Case, sha256: str) -> list[tuple[int, float, str]]:
    item = case.hashes.get(algorithm="sha256", value=sha256).item_id
    rows = case.hashes.filter(item_id=item, frame__isnull=False).order_by("frame")
    return [(r.frame, r.frame_timestamp, r.value) for r in rows]


def _expected_frames(data: bytes) -> list[tuple[int, float, str]]:
    return [(f.frame, round(f.timestamp, 3), f.pdq) for f in hash_video(data).frames]


def test_a_video_is_hashed_on_the_server_as_the_library_hashes_it(client, eligible):
    data = clip_bytes(H264)
    photo = SimpleUploadedFile("photo.png", random_png(1), content_type="image/png")
    response = client.post(
        reverse("web:upload"), {"files": [photo, _video(data)], "consent": "on"}, follow=True
    )
    assert response.redirect_chain == [(reverse("web:created"), 302)]
    case = Case.objects.get()
    expected = hash_video(data)
    assert case.hashes.filter(algorithm="md5", value=expected.md5, media_kind="video").exists()
    frames = _stored_frames(case, expected.sha256)
    assert frames == _expected_frames(data) and len(frames) >= 3
    page = response.content.decode()
    # The created page says what is shared for the video; a video is no "low quality" photo.
    assert f"video: exact fingerprints and {len(frames)} frame fingerprints" in page
    assert 'id="low-quality"' not in page
    # The status page too, and the video can be withdrawn as one file.
    status = client.get(reverse("web:status")).content.decode()
    assert f"Shared: its exact fingerprints and {len(frames)} frame fingerprints" in status
    item = case.hashes.get(algorithm="sha256", value=expected.sha256).item_id
    client.post(reverse("web:item_withdraw", args=[item]))
    assert not case.hashes.filter(item_id=item, status="active").exists()
    assert case.hashes.filter(item_id=item, status="withdrawn").count() == len(frames) + 2


def test_the_upload_page_tells_the_limits_and_takes_videos(client, eligible):
    page = client.get(reverse("web:upload")).content.decode()
    assert 'accept="image/*,video/*"' in page
    assert "up to 30 MB in all; each video up to 30 minutes long" in page
    assert "exact copies only" not in page


def test_one_video_the_browser_cannot_decode_is_hashed_for_the_page(client, eligible):
    data = clip_bytes(HEVC)
    response = client.post(reverse("web:hash_one"), {"file": _video(data), "consent": "on"})
    item = response.json()["item"]
    expected = hash_video(data)
    assert item["media_kind"] == "video"
    assert item["hashes"] == {"md5": expected.md5, "sha256": expected.sha256}
    assert item["vpdq"] == [f.as_dict() for f in expected.frames]
    assert not Case.objects.exists()


@override_settings(TAKEBACK_UPLOAD_MAX_VIDEO_SECONDS=2)
def test_a_video_over_the_servers_duration_limit_is_named_and_the_photo_kept(client, eligible):
    photo = SimpleUploadedFile("photo.png", random_png(2), content_type="image/png")
    response = client.post(
        reverse("web:upload"), {"files": [photo, _video(clip_bytes(H264))], "consent": "on"}
    )
    page = response.content.decode()
    assert "clip.mp4: This video is too large or too long to hash on our server" in page
    assert "longer videos on this device" in page
    assert 'id="upload-kept"' in page and not Case.objects.exists()


def test_a_damaged_video_is_named(client, eligible):
    junk = b"\x00\x00\x00\x18ftypisom" + np.random.default_rng(3).bytes(4000)
    response = client.post(reverse("web:upload"), {"files": [_video(junk)], "consent": "on"})
    assert b"clip.mp4: This video is damaged or incomplete" in response.content


def test_a_kept_video_is_compact_bounded_and_comes_back_whole(client, eligible):
    video = SubmittedItemFactory.build(video=True, frames=1800)  # 30 minutes at 1 a second
    value = forms.kept_sign([("long.mp4", video)])
    # About 60 characters a frame, where the plain signed JSON took about 160.
    assert len(value) < 64 * 1800, len(value)
    form = forms.ServerHashingForm({"kept": value, "consent": "on"})
    assert form.is_valid(), form.errors
    ((name, item),) = form.cleaned_data["kept"]
    assert name == "long.mp4" and item == video
    # Bounded: a value over KEPT_MAX_CHARS is refused unread, and the view keeps only what
    # fits, naming the rest.
    too_long = forms.ServerHashingForm({"kept": "x" * (forms.KEPT_MAX_CHARS + 1), "consent": "on"})
    assert not too_long.is_valid() and "kept" in too_long.errors
    many = [(f"v{n}.mp4", SubmittedItemFactory.build(video=True, frames=1800)) for n in range(8)]
    fitting, left_out = forms.kept_fit(many)
    assert 0 < len(fitting) < 8 and [n for n, _ in fitting] + left_out == [n for n, _ in many]
    assert len(forms.kept_sign(fitting)) <= forms.KEPT_MAX_CHARS


def test_a_video_kept_from_a_try_with_a_bad_file_is_sent_on(client, eligible):
    data = clip_bytes(H264)
    response = client.post(
        reverse("web:upload"),
        {
            "files": [_video(data), SimpleUploadedFile("bad.png", b"not an image")],
            "consent": "on",
        },
    )
    assert b"bad.png:" in response.content and b"not a photo or video format" in response.content
    kept = re.search(rb'name="kept" value="([^"]+)"', response.content).group(1).decode()
    client.post(reverse("web:upload"), {"kept": kept, "consent": "on"})
    case = Case.objects.get()
    assert _stored_frames(case, hashing.video.hash_video(data).sha256) == _expected_frames(data)
