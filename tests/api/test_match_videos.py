"""POST /api/v1/match/videos: a victim's video found in a platform's re-encoded copies.

The clips are rendered and encoded here with PyAV from the conformance photos
(tests/hashing/test_video.py); the listed video is submitted the way the server-side
path stores one (`item_from_record` of `hash_video(...).record()`).
"""

from __future__ import annotations

import io
import json

import av
import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

import hashing
from hashing.video import VideoHash, hash_video
from portal.cases import services as cases
from portal.cases.models import SubmittedHash
from portal.platforms.pseudonyms import pseudonymous_item_id
from tests.hashing.test_video import COPIES, ORIGINAL, UNRELATED_SCENES, Clip, clip_bytes
from tests.support.conformance import PDQ_DATA
from tests.support.platforms import assert_error

pytestmark = pytest.mark.django_db

MATCH_VIDEOS = reverse("v1:video-match")
MATCH = reverse("v1:hash-match")

# The copies a platform might see (other codec, bitrate, resolution, frame rate; trims;
# thin letterbox bars). Bars of 10% of the height make another video for vPDQ
# (tests/hashing/test_video.py test_letterboxing_is_not_undone).
MATCHING = {
    name: COPIES[name]
    for name in (
        "hevc-mov",
        "low-bitrate",
        "half-size",
        "larger-25fps",
        "trimmed-start",
        "trimmed-both",
    )
} | {"letterbox-2": Clip(letterbox=2)}
NOT_MATCHING = {
    "unrelated": Clip(scenes=UNRELATED_SCENES),
    "letterbox-12": Clip(letterbox=12),
}


_HASHED: dict[str, VideoHash] = {}


def hashed(clip: Clip) -> VideoHash:
    """The clip's hashes, computed once per session (Clip holds a dict: keyed by repr)."""
    key = repr(clip)
    if key not in _HASHED:
        _HASHED[key] = hash_video(clip_bytes(clip))
    return _HASHED[key]


def record(clip: Clip) -> dict:
    return {"path": "upload.mp4", **hashed(clip).record()}


def listed_video(clip: Clip = ORIGINAL) -> cases.CaseCreated:
    return cases.case_create(items=[cases.item_from_record(record=hashed(clip).record())])


def match_videos(client, videos, **extra) -> list[dict]:
    response = client.post(MATCH_VIDEOS, {"videos": videos, **extra}, format="json")
    assert response.status_code == 200, response.content[:500]
    return response.json()["results"]


def test_the_video_itself_matches_by_digests_and_every_frame(acme):
    created = listed_video()
    (item_id,) = {str(h.item_id) for h in created.case.hashes.all()}
    (result,) = match_videos(acme.client, [record(ORIGINAL)])
    assert {(e["algorithm"], e["media_kind"]) for e in result["exact"]} == {
        ("md5", "video"),
        ("sha256", "video"),
    }
    (video,) = result["videos"]
    assert video["match"] is True
    assert video["query_match_percent"] == video["compared_match_percent"] == 100.0
    assert video["frames_matched"] == result["frames"] == video["compared_frames"] == 6
    assert video["item_id"] == pseudonymous_item_id(platform=acme.platform, item_id=item_id)
    assert video["case_id"].startswith("pc_") and created.case.number not in str(result)
    assert video["md5"] == hashed(ORIGINAL).md5
    assert result["thresholds"] == {
        "pdq": 31,
        "query_match_percent": 80.0,
        "compared_match_percent": 0.0,
    }
    assert result["photos"] == [] and result["truncated"] is False


def test_reencoded_trimmed_and_letterboxed_copies_match(acme, artifacts_dir):
    listed_video()
    names = sorted(MATCHING)
    results = match_videos(acme.client, [record(MATCHING[name]) for name in names])
    for name, result in zip(names, results, strict=True):
        assert result["exact"] == [], name  # another file: only vPDQ can find it
        (video,) = result["videos"]
        assert video["match"] is True, (name, video)
        assert video["query_match_percent"] >= 80.0, (name, video)
    # The figures, for people: each copy kind's shares through /match/videos.
    others = sorted(NOT_MATCHING)
    results += match_videos(acme.client, [record(NOT_MATCHING[name]) for name in others])
    figures = {
        name: {
            "frames": result["frames"],
            **{
                key: video[key]
                for video in result["videos"][:1]
                for key in ("match", "query_match_percent", "compared_match_percent")
            },
        }
        for name, result in zip(names + others, results, strict=True)
    }
    (artifacts_dir / "video-match-api.json").write_text(json.dumps(figures, indent=1) + "\n")


def test_unrelated_clips_and_thick_letterbox_bars_do_not_match(acme):
    listed_video()
    names = sorted(NOT_MATCHING)
    results = match_videos(acme.client, [record(NOT_MATCHING[name]) for name in names])
    for name, result in zip(names, results, strict=True):
        assert result["exact"] == [] and result["photos"] == [], name
        assert not any(video["match"] for video in result["videos"]), (name, result)


def test_thresholds_are_the_callers(acme):
    listed_video()
    trimmed = record(COPIES["trimmed-both"])  # 4 of the original's 6 seconds
    (loose,) = match_videos(acme.client, [trimmed])
    (video,) = loose["videos"]
    assert video["match"] and video["compared_match_percent"] < 100.0
    (strict,) = match_videos(
        acme.client, [trimmed], thresholds={"compared_match_percent": 100, "pdq": 20}
    )
    assert strict["thresholds"] == {
        "pdq": 20,
        "query_match_percent": 80.0,
        "compared_match_percent": 100.0,
    }
    assert not any(video["match"] for video in strict["videos"])


def test_withdrawn_and_quarantined_videos_stop_matching(acme):
    first, second = listed_video(), listed_video(COPIES["half-size"])
    query = record(COPIES["low-bitrate"])
    (before,) = match_videos(acme.client, [query])
    assert len([v for v in before["videos"] if v["match"]]) == 2
    cases.case_withdraw(case=first.case)
    cases.hashes_quarantine(hashes=list(second.case.hashes.all()))
    (after,) = match_videos(acme.client, [query])
    assert after["videos"] == [] and after["exact"] == []


def _still_clip(photo: Image.Image, *, seconds: int = 3, fps: int = 10) -> bytes:
    buffer = io.BytesIO()
    pixels = np.asarray(photo.convert("RGB").resize((320, 240), Image.Resampling.BILINEAR))
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for _ in range(seconds * fps):
            output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        output.mux(stream.encode())
    return buffer.getvalue()


def test_a_listed_photo_shown_in_a_video_is_found_with_its_frame_and_time(acme):
    path = PDQ_DATA / "bridge-mods" / "aaa-orig.jpg"
    photo = cases.case_create(items=[cases.item_from_record(record=hashing.hash_image(path))])
    listed = photo.case.hashes.get(algorithm="pdq")
    clip = hash_video(_still_clip(Image.open(path)))
    (result,) = match_videos(acme.client, [clip.record()])
    (hit,) = result["photos"]
    assert hit["value"] == listed.value and hit["distance"] <= 31
    assert hit["algorithm"] == "pdq" and hit["media_kind"] == "image"
    assert (hit["frame"], hit["timestamp"]) == (clip.frames[0].frame, clip.frames[0].timestamp)
    assert hit["frames_matched"] == len(clip.frames)
    assert result["videos"] == []


def test_an_image_match_on_a_video_frame_says_which_frame(acme):
    listed_video()
    stored = SubmittedHash.objects.filter(frame__isnull=False).order_by("frame")[2]
    response = acme.client.post(
        MATCH, {"hashes": [{"algorithm": "pdq", "value": stored.value}]}, format="json"
    )
    (hit,) = [m for m in response.json()["results"][0]["matches"] if m["distance"] == 0]
    assert hit["media_kind"] == "video"
    assert (hit["frame"], hit["timestamp"]) == (stored.frame, stored.frame_timestamp)
    md5 = SubmittedHash.objects.get(algorithm="md5")
    response = acme.client.post(
        MATCH, {"hashes": [{"algorithm": "md5", "value": md5.value}]}, format="json"
    )
    (hit,) = response.json()["results"][0]["matches"]
    assert hit["frame"] is None and hit["timestamp"] is None


FRAME = {"frame": 0, "timestamp": 0.0, "pdq": "f" * 64, "quality": 100}


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"videos": []}, "videos", "min_length"),
        ({"videos": [{}]}, "videos", "no_hashes"),
        ({"videos": [{"md5": "A" * 32}]}, "videos", "invalid"),
        ({"videos": [{"vpdq": {"frame": 0}}]}, "videos", "not_a_list"),
        ({"videos": [{"vpdq": [{**FRAME, "pdq": "f" * 63}]}]}, "videos", "bad_frame"),
        ({"videos": [{"vpdq": [{**FRAME, "quality": 101}]}]}, "videos", "bad_frame"),
        ({"videos": [{"vpdq": [{**FRAME, "timestamp": -1}]}]}, "videos", "bad_frame"),
        ({"videos": [{"vpdq": [{**FRAME, "frame": True}]}]}, "videos", "bad_frame"),
        ({"videos": [{"vpdq": [{**FRAME, "frame": 10**400}]}]}, "videos", "bad_frame"),
        ({"videos": [{"vpdq": [{**FRAME, "timestamp": 10**400}]}]}, "videos", "bad_frame"),
        ({"videos": [{"vpdq": [{**FRAME, "quality": 0.5}]}]}, "videos", "bad_frame"),
        ({"videos": [{"vpdq": [FRAME] * 7201}]}, "videos", "too_many_frames"),
        ({"videos": [{"vpdq": [FRAME]}], "thresholds": {"pdq": 32}}, "thresholds", "max_value"),
        (
            {"videos": [{"vpdq": [FRAME]}], "thresholds": {"query_match_percent": 101}},
            "thresholds",
            "max_value",
        ),
    ],
)
def test_bad_input_is_a_clear_400(acme, body, field, code):
    response = acme.client.post(MATCH_VIDEOS, body, format="json")
    details = assert_error(response, 400, "validation_error")["details"]
    assert code in str(details), details
    assert field in details


def test_an_oversize_batch_is_refused_up_front(acme):
    response = acme.client.post(MATCH_VIDEOS, {"videos": [{"md5": "0" * 32}] * 11}, format="json")
    body = assert_error(response, 400, "batch_too_large")
    assert body["details"] == {"max_items": 10, "received": 11}


def test_the_match_scope_is_required(db):
    from tests.support.platforms import platform_client

    reader = platform_client("Reader", scopes=["feed:read"])
    response = reader.client.post(MATCH_VIDEOS, {"videos": [{"md5": "0" * 32}]}, format="json")
    assert_error(response, 403, "insufficient_scope")


def test_the_schema_documents_the_endpoint(client):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/match/videos"]["post"]
    assert operation["operationId"] == "videos_match"
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][body.rsplit("/", 1)[-1]]
    assert "videos" in component["properties"]


def test_every_fed_video_digest_and_photo_pdq_matches_itself_decoys_included(acme):
    """Probe 2 of decoy_view.py on this endpoint: a decoy must match as a real hash does."""
    from portal.platforms.models import Decoy

    cases.case_create(items=[cases.item_from_record(record=hashed(ORIGINAL).record())])
    feed = acme.client.get(reverse("v1:hash-feed"), {"limit": 1000}).json()["entries"]
    decoys = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    fed = [e for e in feed if e["frame"] is None and e["media_kind"] == "video"]
    photos = [e for e in feed if e["algorithm"] == "pdq" and e["media_kind"] == "image"]
    assert {e["value"] for e in fed + photos} & decoys  # the probe reaches decoys
    queries = [{e["algorithm"]: e["value"]} for e in fed]
    queries += [{"vpdq": [{**FRAME, "pdq": e["value"]}]} for e in photos]
    for start in range(0, len(queries), 10):
        results = match_videos(acme.client, queries[start : start + 10])
        for query, result in zip(queries[start : start + 10], results, strict=True):
            if "vpdq" in query:
                (hit,) = [h for h in result["photos"] if h["distance"] == 0]
                assert hit["value"] == query["vpdq"][0]["pdq"] and hit["frames_matched"] == 1
            else:
                ((algorithm, value),) = query.items()
                assert [(h["algorithm"], h["value"]) for h in result["exact"]] == [
                    (algorithm, value)
                ]
