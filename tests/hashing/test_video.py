"""Video hashing (hashing/video.py): digests, vPDQ sampling, matching, limits and errors.

Clips are made here with PyAV from the conformance photos (slow pans, one photo per scene),
in memory or in a temporary directory: re-encoded (other codec, bitrate, resolution),
trimmed, letterboxed and unrelated copies of one "original".
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import hashing
from hashing import video
from hashing.errors import UnreadableVideo, UnsupportedVideoFormat, VideoTooLarge
from hashing.pdq import PDQ_QUALITY_FLOOR
from hashing.video import VideoLimits, VpdqFrame, hash_video, sniff_container, vpdq_match
from tests.support.conformance import PDQ_DATA

LABELME = "reg-test-input/labelme-subset"
# Conformance photos (paths under PDQ_DATA) with PDQ quality 100, one per scene.
ORIGINAL_SCENES = ("bridge-mods/aaa-orig.jpg", "misc-images/c.png", f"{LABELME}/q2821.jpg")
UNRELATED_SCENES = (
    f"{LABELME}/q0291.jpg",
    "reg-test-input/pen-and-coaster.png",
    "reg-test-input/exif-rotn/exif-rotn-6.jpg",
)

# SVT-AV1 prints its banner unless told otherwise (1 = errors only).
os.environ.setdefault("SVT_LOG", "1")


@dataclass(frozen=True)
class Clip:
    """How to render and encode a test clip. ``start``/``frames`` trim the timeline."""

    scenes: Sequence[str] = ORIGINAL_SCENES
    codec: str = "libx264"
    container: str = "mp4"
    size: tuple[int, int] = (320, 240)
    fps: int | Fraction = 30
    seconds_per_scene: float = 2.0
    start: int = 0
    frames: int | None = None
    pix_fmt: str = "yuv420p"
    options: dict[str, str] = field(default_factory=dict)
    bit_rate: int | None = None
    letterbox: int = 0  # rows of black above and below the picture
    still: bool = False  # no pan: the same picture for the whole scene
    audio_first: bool = False  # an audio stream before the video stream
    # (AVColorSpace, AVColorRange) tagged on the stream, e.g. (1, 2) = BT.709, full range.
    color_tags: tuple[int, int] | None = None

    @property
    def total_frames(self) -> int:
        return round(len(self.scenes) * self.seconds_per_scene * self.fps)


@functools.cache
def _scene_photo(name: str) -> Image.Image:
    photo = Image.open(PDQ_DATA / name).convert("RGB")
    photo.thumbnail((640, 640))
    return photo


def rendered_frames(clip: Clip) -> Iterator[np.ndarray]:
    """RGB frames of the clip's timeline: each scene pans slowly across one photo.

    The pan is set in seconds, not frames, so the same instant looks the same whatever the
    frame rate, size or trim of a copy.
    """
    width, height = clip.size
    inner = height - 2 * clip.letterbox
    photos = [_scene_photo(name) for name in clip.scenes]
    scene_frames = round(clip.seconds_per_scene * clip.fps)
    end = clip.total_frames if clip.frames is None else clip.start + clip.frames
    for index in range(clip.start, end):
        photo = photos[min(index // scene_frames, len(photos) - 1)]
        progress = 0.0 if clip.still else (index % scene_frames) / scene_frames
        pw, ph = photo.size
        # A window of 90% of the photo moving 2% of its width over the scene: PDQ moves
        # by some 30 bits for a 2.5% shift, so faster pans would not survive a trim.
        box_w, box_h = pw * 0.90, ph * 0.90
        left = pw * 0.04 + pw * 0.02 * progress
        top = (ph - box_h) / 2
        picture = photo.resize(
            (width, inner), Image.Resampling.BILINEAR, (left, top, left + box_w, top + box_h)
        )
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[clip.letterbox : clip.letterbox + inner] = np.asarray(picture)
        yield frame


def encode(clip: Clip, target: str | Path | io.BytesIO) -> None:
    """Encode the clip with PyAV into a path or an in-memory buffer."""
    with av.open(target, "w", format=clip.container) as output:
        audio = None
        if clip.audio_first:
            audio = output.add_stream("pcm_s16le", rate=8000, layout="mono")
        stream = output.add_stream(clip.codec, rate=clip.fps)
        stream.width, stream.height = clip.size
        stream.pix_fmt = clip.pix_fmt
        if clip.bit_rate:
            stream.bit_rate = clip.bit_rate
        if clip.options:
            stream.options = dict(clip.options)
        if clip.color_tags:
            context = stream.codec_context
            context.colorspace, context.color_range = clip.color_tags
            context.color_primaries = context.color_trc = 1  # BT.709
        for pixels in rendered_frames(clip):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            output.mux(stream.encode(frame))
        output.mux(stream.encode())
        if audio is not None:
            samples = np.zeros((1, 8000), dtype=np.int16)
            sound = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            sound.sample_rate = 8000
            output.mux(audio.encode(sound))
            output.mux(audio.encode())


_ENCODED: dict[str, bytes] = {}


def clip_bytes(clip: Clip) -> bytes:
    """The clip encoded in memory (each distinct clip is encoded once per session)."""
    key = repr(clip)
    if key not in _ENCODED:
        buffer = io.BytesIO()
        encode(clip, buffer)
        _ENCODED[key] = buffer.getvalue()
    return _ENCODED[key]


def write_clip(clip: Clip, directory: Path, name: str) -> Path:
    path = directory / f"{name}.{clip.container if clip.container != 'matroska' else 'mkv'}"
    encode(clip, path)
    return path


ORIGINAL = Clip()
# Copies a platform might see: other codecs and containers, bitrates and sizes, trims.
COPIES = {
    "vp9-webm": Clip(codec="libvpx-vp9", container="webm", options={"crf": "40", "b": "0"}),
    "vp8-webm": Clip(codec="libvpx", container="webm", bit_rate=300_000),
    "av1-mkv": Clip(codec="libsvtav1", container="matroska", options={"preset": "12"}),
    "hevc-mov": Clip(codec="libx265", container="mov", options={"x265-params": "log-level=error"}),
    "mpeg4-avi": Clip(codec="mpeg4", container="avi", bit_rate=400_000),
    "low-bitrate": Clip(bit_rate=60_000),
    "half-size": Clip(size=(160, 120)),
    "larger-25fps": Clip(size=(480, 360), fps=25),
    "trimmed-start": Clip(start=42),
    "trimmed-both": Clip(start=25, frames=100),
}


@pytest.fixture(scope="session")
def original_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(ORIGINAL, tmp_path_factory.mktemp("video"), "original")


@pytest.fixture(scope="session")
def original(original_path: Path) -> video.VideoHash:
    return hash_video(original_path)


@pytest.fixture(scope="session")
def unrelated() -> video.VideoHash:
    return hash_video(clip_bytes(Clip(scenes=UNRELATED_SCENES)))


def test_digests_are_of_the_whole_file_and_frames_are_sampled_once_a_second(
    original_path: Path, original: video.VideoHash
) -> None:
    data = original_path.read_bytes()
    assert original.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert original.sha256 == hashlib.sha256(data).hexdigest()
    assert original.frames_decoded == ORIGINAL.total_frames == 180
    assert original.duration == pytest.approx(6.0, abs=0.05)
    assert [f.frame for f in original.sampled] == [0, 30, 60, 90, 120, 150]
    assert [f.timestamp for f in original.sampled] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(len(f.pdq) == 64 and f.pdq == f.pdq.lower() for f in original.sampled)
    assert all(f.quality >= PDQ_QUALITY_FLOOR for f in original.sampled)


def test_record_is_the_cli_shape(original: video.VideoHash) -> None:
    record = original.record()
    assert list(record) == ["media", "md5", "sha256", "duration", "vpdq"]
    assert record["media"] == "video"
    assert record["duration"] == round(original.duration, 3)
    assert record["vpdq"] == [f.as_dict() for f in original.frames]
    assert list(record["vpdq"][0]) == ["frame", "timestamp", "pdq", "quality"]
    assert VpdqFrame.from_dict(record["vpdq"][1]) == original.frames[1]


def test_timestamps_are_vpdqs_single_precision_division() -> None:
    clip = Clip(fps=24, seconds_per_scene=1.0)
    result = hash_video(clip_bytes(clip), seconds_per_hash=0.5)
    assert [f.frame for f in result.sampled] == [0, 12, 24, 36, 48, 60]
    # hasher.h: static_cast<float>(frame_number) / float framerate.
    expected = [float(np.float32(f.frame) / np.float32(24.0)) for f in result.sampled]
    assert [f.timestamp for f in result.sampled] == expected


def test_bytes_file_objects_and_streams_hash_like_the_path(
    original_path: Path, original: video.VideoHash
) -> None:
    data = original_path.read_bytes()
    assert hash_video(data) == original
    assert hash_video(memoryview(data)) == original
    with original_path.open("rb") as handle:
        assert hash_video(handle) == original
    buffer = io.BytesIO(b"prefix" + data)
    buffer.seek(6)
    assert hash_video(buffer) == original

    class Stream(io.RawIOBase):
        """A socket-like stream: readable, not seekable."""

        def __init__(self, payload: bytes) -> None:
            self._inner = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            return self._inner.readinto(buffer)

    assert hash_video(io.BufferedReader(Stream(data))) == original


@pytest.mark.parametrize("name", sorted(COPIES))
def test_reencoded_and_trimmed_copies_match_the_original(
    name: str, original: video.VideoHash
) -> None:
    copy = hash_video(clip_bytes(COPIES[name]))
    result = vpdq_match(copy.frames, original.frames)
    assert result.match, result
    assert result.query_match_percent >= 80.0


def test_unrelated_clips_do_not_match(
    original: video.VideoHash, unrelated: video.VideoHash
) -> None:
    result = vpdq_match(unrelated.frames, original.frames)
    assert not result.match
    assert result.query_match_percent == 0.0
    assert result.compared_match_percent == 0.0


def test_letterboxing_is_not_undone(original: video.VideoHash) -> None:
    """vPDQ hashes the whole frame (no black-bar detection): bars move every frame's hash.

    Bars of 2 rows in 240 (and the picture squeezed between them) still match; bars of
    12 rows (10% of the height) make a different video.
    """
    thin = hash_video(clip_bytes(Clip(letterbox=2)))
    assert vpdq_match(thin.frames, original.frames).match
    thick = hash_video(clip_bytes(Clip(letterbox=12)))
    assert not vpdq_match(thick.frames, original.frames).match


def test_a_still_frame_matches_the_photo_as_an_image_hash() -> None:
    """Same hex convention as image PDQ: a frame can be matched against image hashes."""
    photo = PDQ_DATA / "bridge-mods" / "aaa-orig.jpg"
    image = Image.open(photo).convert("RGB")
    clip = Clip(scenes=("unused",), still=True, seconds_per_scene=1.0)

    frames = [np.asarray(image.resize((320, 240), Image.Resampling.BILINEAR))] * clip.fps
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=clip.fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for pixels in frames:
            output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        output.mux(stream.encode())
    (frame,) = hash_video(buffer.getvalue()).frames
    as_image = hashing.hash_image(photo)["pdq"]
    distance = bin(int(frame.pdq, 16) ^ int(as_image, 16)).count("1")
    assert distance <= 31


def test_low_quality_frames_and_repeated_hashes_are_not_kept() -> None:
    flat = Image.new("RGB", (64, 48), (12, 12, 12))
    buffer = io.BytesIO()
    photo = np.asarray(_scene_photo(ORIGINAL_SCENES[0]).resize((160, 120)))
    timeline = [np.asarray(flat.resize((160, 120)))] * 20 + [photo] * 40 + [photo[::-1]] * 20
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"crf": "0"}  # lossless: a repeated picture repeats its hash exactly
        for pixels in timeline:
            output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        output.mux(stream.encode())
    result = hash_video(buffer.getvalue())
    assert [f.frame for f in result.sampled] == [0, 10, 20, 30, 40, 50, 60, 70]
    assert [f.quality < PDQ_QUALITY_FLOOR for f in result.sampled[:2]] == [True, True]
    assert len({f.pdq for f in result.sampled[2:6]}) == 1
    assert [f.frame for f in result.frames] == [20, 60]


def _frames(*hexes: str, quality: int = 100) -> list[VpdqFrame]:
    return [VpdqFrame(i, float(i), h, quality) for i, h in enumerate(hexes)]


def _flip(hex_value: str, bits: int) -> str:
    value = int(hex_value, 16) ^ ((1 << bits) - 1)
    return f"{value:064x}"


def test_match_counts_each_side_and_applies_both_thresholds() -> None:
    a, b, c, d = (f"{n:x}" * 64 for n in (1, 2, 4, 8))
    query = _frames(a, b, c, d)
    compared = _frames(_flip(a, 31), _flip(b, 32))
    result = vpdq_match(query, compared)
    assert (result.query_match_percent, result.compared_match_percent) == (25.0, 50.0)
    assert not result.match
    assert vpdq_match(query, compared, query_threshold=0.25).match
    assert not vpdq_match(query, compared, query_threshold=0.25, compared_threshold=0.6).match
    assert vpdq_match(query, compared, distance=32, query_threshold=0.5).match
    assert vpdq_match(compared, query, compared_threshold=0.25, query_threshold=0.5).match


def test_match_dedupes_and_ignores_low_quality_frames() -> None:
    a, b = "a" * 64, "b" * 64
    query = [*_frames(a, a, a, a), *_frames(b, quality=PDQ_QUALITY_FLOOR - 1)]
    result = vpdq_match(query, _frames(a))
    assert (result.query_match_percent, result.compared_match_percent) == (100.0, 100.0)
    assert vpdq_match(query, _frames(b, quality=10)) == video.VpdqMatch(0.0, 0.0, False)
    assert vpdq_match([], []) == video.VpdqMatch(0.0, 0.0, False)


def test_long_hash_lists_are_compared_in_blocks() -> None:
    rng = np.random.default_rng(7)
    hexes = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(3000)]
    query = _frames(*hexes)
    compared = _frames(*[_flip(h, 5) for h in hexes[::3]])
    result = vpdq_match(query, compared, query_threshold=0.3)
    assert result.query_match_percent == pytest.approx(1000 * 100 / 3000)
    assert result.compared_match_percent == 100.0
    assert result.match


@pytest.mark.parametrize(
    ("head", "demuxer"),
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "mov"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "mov"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "mov"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81", "matroska"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "avi"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", None),  # an iPhone photo
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", None),
        (b"RIFF\x00\x10\x00\x00WEBPVP8 ", None),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00", None),
        (b"", None),
    ],
)
def test_sniff_container(head: bytes, demuxer: str | None) -> None:
    assert sniff_container(head) == demuxer


def test_every_supported_container_and_codec_decodes(original: video.VideoHash) -> None:
    for name in ("vp9-webm", "vp8-webm", "av1-mkv", "hevc-mov", "mpeg4-avi"):
        result = hash_video(clip_bytes(COPIES[name]))
        assert result.frames_decoded == 180, name
        assert len(result.frames) == len(original.frames), name


def test_mjpeg_in_avi_decodes() -> None:
    clip = Clip(codec="mjpeg", container="avi", pix_fmt="yuvj420p", size=(160, 120))
    assert len(hash_video(clip_bytes(clip)).frames) == 6


def test_an_unsupported_codec_is_a_clear_error() -> None:
    data = clip_bytes(Clip(codec="ffv1", container="matroska", size=(64, 48), pix_fmt="yuv420p"))
    with pytest.raises(UnsupportedVideoFormat) as caught:
        hash_video(data)
    assert "MP4/MOV, WebM, MKV and AVI" in caught.value.message


def test_not_a_video_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedVideoFormat):
        hash_video(b"just some text, not a video at all")
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    with pytest.raises(UnsupportedVideoFormat):
        hash_video(png.getvalue())


def test_audio_only_file_has_no_video_track() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as output:
        audio = output.add_stream("pcm_s16le", rate=8000, layout="mono")
        sound = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono"
        )
        sound.sample_rate = 8000
        output.mux(audio.encode(sound))
        output.mux(audio.encode())
    with pytest.raises(UnreadableVideo) as caught:
        hash_video(buffer.getvalue())
    assert "no video" in caught.value.message


def test_damaged_files_are_clear_errors(original_path: Path) -> None:
    data = original_path.read_bytes()
    for damaged in (data[:2000], data[:40] + bytes(4000), data[: len(data) // 2]):
        with pytest.raises(UnreadableVideo) as caught:
            hash_video(damaged)
        assert "damaged" in caught.value.message


def test_size_limit_is_checked_before_reading(original_path: Path) -> None:
    limits = VideoLimits(max_bytes=1000)
    with pytest.raises(VideoTooLarge, match="the limit is"):
        hash_video(original_path, limits=limits)

    class Endless(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            buffer[:] = bytes(len(buffer))
            return len(buffer)

    with pytest.raises(VideoTooLarge):  # a stream is cut off at the limit, not read to the end
        hash_video(io.BufferedReader(Endless()), limits=limits)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (VideoLimits(max_seconds=5.0), "too long"),
        (VideoLimits(max_pixels=320 * 240 - 1), "320x240"),
        (VideoLimits(max_frames=179), "too many frames"),
    ],
)
def test_declared_limits_are_checked_before_decoding(
    original_path: Path, limits: VideoLimits, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded a frame")

    monkeypatch.setattr(video, "_decoded_frames", no_decoding)
    with pytest.raises(VideoTooLarge, match=message):
        hash_video(original_path, limits=limits)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (VideoLimits(max_seconds=3.0), "too long"),
        (VideoLimits(max_pixels=320 * 240 - 1), "320x240"),
        (VideoLimits(max_frames=100), "too many frames"),
    ],
)
def test_limits_hold_while_decoding_when_the_container_lies(
    original_path: Path, limits: VideoLimits, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(video, "_check_declared", lambda *args: None)
    with pytest.raises(VideoTooLarge, match=message):
        hash_video(original_path, limits=limits)


def test_tiny_frames_are_refused() -> None:
    data = clip_bytes(Clip(size=(4, 4), seconds_per_scene=0.2))
    with pytest.raises(UnreadableVideo, match="too small"):
        hash_video(data)


def test_error_messages_never_name_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "victim-name.mp4"
    secret.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(100))
    with pytest.raises(UnreadableVideo) as caught:
        hash_video(secret)
    assert "victim" not in caught.value.message
    assert str(tmp_path) not in caught.value.message


@pytest.mark.parametrize("clip", [Clip(), COPIES["vp9-webm"], COPIES["mpeg4-avi"]], ids=str)
def test_corrupted_bytes_give_a_hash_or_a_hashing_error(clip: Clip) -> None:
    """Truncated, overwritten and scribbled-on copies never raise anything else."""
    rng = np.random.default_rng(3)
    data = clip_bytes(replace(clip, size=(64, 48), seconds_per_scene=0.5))
    for attempt in range(30):
        damaged = bytearray(data)
        where = int(rng.integers(16, len(data)))
        if attempt % 3 == 0:
            damaged = damaged[:where]
        elif attempt % 3 == 1:
            damaged[where : where + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        else:
            for spot in rng.integers(16, len(data), 12):
                damaged[int(spot)] = int(rng.integers(0, 256))
        with contextlib.suppress(hashing.HashingError):
            hash_video(bytes(damaged))


def test_in_memory_uploads_never_open_a_file(
    original_path: Path, original: video.VideoHash, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes and file objects are demuxed through PyAV's callbacks, never via the disk."""
    data = original_path.read_bytes()

    def no_files(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"opened a file: {args!r}")

    monkeypatch.setattr("builtins.open", no_files)
    monkeypatch.setattr(io, "open", no_files)
    monkeypatch.setattr(os, "open", no_files)
    monkeypatch.setattr(tempfile, "mkstemp", no_files)
    assert hash_video(data) == original
    assert hash_video(io.BytesIO(data)) == original
