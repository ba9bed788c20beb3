"""Video hashes: MD5/SHA-256 of the file and vPDQ, exactly as Meta's ``vpdq`` computes it.

vPDQ (ThreatExchange ``vpdq/``) is a list of PDQ hashes of sampled frames. The frames and
their pixels follow ``vpdq`` 0.2.5's ``hashVideoFile`` (``cpp/vpdq/cpp/hashing/
filehasher.cpp``, ``ffmpegwrapper.cpp``, ``hasher.h``) step by step, so that
``hash_video(path)`` samples the frames ``vpdq.computeHash(path, seconds_per_hash=1.0)``
returns, with the same frame numbers and timestamps:

1. The first video stream is decoded; frames are numbered 0, 1, 2... in the order the
   decoder returns them (FFmpeg's ``AVCodecContext.frame_number`` - 1).
2. The frame rate is the stream's average frame rate, or its base (``r_frame_rate``) rate
   when the average is unknown. Frame ``n`` is sampled when
   ``n % int(seconds_per_hash * frame_rate) == 0`` (a modulus of 0 becomes 1).
3. A sampled frame is converted to 8-bit RGB at the stream's declared size with swscale's
   default YUV matrix (BT.601, whatever the stream's colour tags say), limited range unless
   the decoder's pixel format is a full-range ``yuvj`` one, and area scaling flags.
4. PDQ is computed on those full-size RGB pixels (our exact PDQ, ``hashing._fast``, or the
   ``pdqhash`` reference); the timestamp is ``float32(n) / float32(frame_rate)``.
5. vpdq flushes the decoder at the end only when the video stream is stream 0 (its flush
   packet is a blank one, whose stream index is 0); the last few delayed frames of a video
   stored after another stream are therefore never returned. We do the same, for parity.

The hex form of each frame hash is the one of our image PDQ (python-threatexchange's):
vpdq's ``Hash256::format`` prints ``w[15]`` first and bit ``k`` lives in ``w[k / 16]``,
i.e. the integer ``sum(bit_k << k)`` as 64 hex digits, which is ``hashing.pdq``'s order.

What is *kept* (``VideoHash.frames``, the record the CLI prints and the portal stores): the
sampled frames with quality >= ``PDQ_QUALITY_FLOOR`` (50, python-threatexchange's
``VPDQ_QUALITY_THRESHOLD``), dropping a frame whose hash equals the previous kept frame's.
``vpdq_match`` then applies python-threatexchange's ``match_VPDQ_hash_brute``: global
de-duplication, the quality floor, and the share of frames of each side with a frame of the
other side within ``distance`` (<= 31) bits.

Limits (decompression-bomb videos exist) are checked before any frame is decoded, from the
file size and the container's declarations, and again while decoding, from what the
decoder actually returns (``VideoLimits``).

Privacy: an in-memory upload is decoded from memory (PyAV reads the file object through
callbacks); nothing here writes to disk or logs.
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO

import av
import av.error
import numpy as np
import numpy.typing as npt

from hashing.digests import CHUNK_SIZE, file_digests
from hashing.distance import PDQ_MATCH_THRESHOLD
from hashing.errors import UnreadableVideo, UnsupportedVideoFormat, VideoTooLarge
from hashing.pdq import PDQ_QUALITY_FLOOR, bits_to_hex

__all__ = [
    "DEFAULT_SECONDS_PER_HASH",
    "VPDQ_COMPARED_MATCH_THRESHOLD",
    "VPDQ_QUERY_MATCH_THRESHOLD",
    "VideoHash",
    "VideoLimits",
    "VpdqFrame",
    "VpdqMatch",
    "hash_video",
    "kept_frames",
    "sniff_container",
    "vpdq_match",
]

VideoSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO

# vpdq's computeHash default and python-threatexchange's hash_file_compact: one frame a second.
DEFAULT_SECONDS_PER_HASH = 1.0

# python-threatexchange extensions/vpdq/vpdq_util.py: VPDQ_QUERY_MATCH_THRESHOLD_PERCENT = 80.0
# and VPDQ_INDEX_MATCH_THRESHOLD_PERCENT = 0.0, written here as fractions of the frames.
VPDQ_QUERY_MATCH_THRESHOLD = 0.8
VPDQ_COMPARED_MATCH_THRESHOLD = 0.0

# vpdq's VPDQ_TIMESTAMP_PRECISION: timestamps are shared rounded to the millisecond.
TIMESTAMP_DECIMALS = 3

# vpdq's bufferhasher.cpp MIN_HASHABLE_DIM: narrower frames cannot be PDQ-hashed.
MIN_DIMENSION = 5

# Limits. Each is checked from the container's declarations before decoding and again on
# the frames the decoder returns. 4 GiB covers a long phone recording; the portal passes its
# own, much lower, in-memory upload cap (TAKEBACK_MAX_UPLOAD_BYTES).
DEFAULT_MAX_VIDEO_BYTES = 4 * 1024**3
# Two hours: longer than nearly every recording shared without consent, and a bound on the
# decoding time a single upload can cost (~10 min for 1080p on one core).
DEFAULT_MAX_VIDEO_SECONDS = 2 * 3600.0
# 8K UHD (7680x4320): every camera's largest video mode, ~100 MB of RGB per frame.
DEFAULT_MAX_VIDEO_PIXELS = 7680 * 4320
# Two hours at 60 frames a second.
DEFAULT_MAX_VIDEO_FRAMES = 2 * 3600 * 60

# FFmpeg demuxers we open, chosen from the file's first bytes (never FFmpeg's own probing,
# which would also open playlists such as HLS that fetch other files or URLs).
MP4_DEMUXER = "mov"  # MP4, MOV, M4V, 3GP: ISO base media files
MATROSKA_DEMUXER = "matroska"  # MKV and WebM
AVI_DEMUXER = "avi"

# Codecs (FFmpeg's canonical names) we agree to decode.
ALLOWED_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mjpeg"})

# ISO base media major brands that are still images or image sequences (HEIC, AVIF), which
# hashing.decode handles as images.
_IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
)
# Top-level QuickTime atoms that may open a .mov written without an ``ftyp`` box.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})

# How many bytes sniff_container needs.
SNIFF_BYTES = 16

_RGB = "rgb24"

# Sampled frames converted but not yet hashed (8K RGB is 100 MB a frame).
_IN_FLIGHT = 2


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """What ``hash_video`` refuses to decode (``VideoTooLarge``)."""

    max_bytes: int = DEFAULT_MAX_VIDEO_BYTES
    max_seconds: float = DEFAULT_MAX_VIDEO_SECONDS
    max_pixels: int = DEFAULT_MAX_VIDEO_PIXELS
    max_frames: int = DEFAULT_MAX_VIDEO_FRAMES


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    """One vPDQ feature: a sampled frame's number, timestamp (s), PDQ hex and quality."""

    frame: int
    timestamp: float
    pdq: str
    quality: int

    def as_dict(self) -> dict[str, Any]:
        """The wire form: ``{"frame", "timestamp", "pdq", "quality"}`` (timestamp in ms)."""
        return {
            "frame": self.frame,
            "timestamp": round(self.timestamp, TIMESTAMP_DECIMALS),
            "pdq": self.pdq,
            "quality": self.quality,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VpdqFrame:
        """Read the wire form back (the hash is validated by the caller's boundary)."""
        return cls(
            int(data["frame"]), float(data["timestamp"]), str(data["pdq"]), int(data["quality"])
        )


@dataclass(frozen=True, slots=True)
class VideoHash:
    """The hashes of one video file.

    ``sampled`` is every frame vpdq samples (what ``vpdq.computeHash`` returns); ``frames``
    is what is kept and shared (see ``kept_frames``).
    """

    md5: str
    sha256: str
    duration: float
    width: int
    height: int
    frame_rate: float
    frames_decoded: int
    sampled: tuple[VpdqFrame, ...] = field(repr=False)

    @property
    def frames(self) -> list[VpdqFrame]:
        return kept_frames(self.sampled)

    def record(self) -> dict[str, Any]:
        """``{"media": "video", "md5", "sha256", "duration", "vpdq": [...]}``."""
        return {
            "media": "video",
            "md5": self.md5,
            "sha256": self.sha256,
            "duration": round(self.duration, TIMESTAMP_DECIMALS),
            "vpdq": [frame.as_dict() for frame in self.frames],
        }


@dataclass(frozen=True, slots=True)
class VpdqMatch:
    """python-threatexchange's ``VPDQMatchResult`` plus the verdict under the thresholds."""

    query_match_percent: float
    compared_match_percent: float
    match: bool


def sniff_container(head: bytes) -> str | None:
    """The FFmpeg demuxer for a file starting with ``head`` (>= 16 bytes), or None.

    HEIC/AVIF stills share MP4's box format; their brands are left to the image decoder.
    """
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML magic: Matroska, WebM
        return MATROSKA_DEMUXER
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI_DEMUXER
    box = head[4:8]
    if box == b"ftyp":
        return None if head[8:12] in _IMAGE_BRANDS else MP4_DEMUXER
    if box in _QUICKTIME_ATOMS:
        return MP4_DEMUXER
    return None


def kept_frames(frames: Iterable[VpdqFrame]) -> list[VpdqFrame]:
    """Drop frames under the PDQ quality floor and frames repeating the previous kept hash."""
    kept: list[VpdqFrame] = []
    for frame in frames:
        if frame.quality < PDQ_QUALITY_FLOOR:
            continue
        if kept and kept[-1].pdq == frame.pdq:
            continue
        kept.append(frame)
    return kept


def hash_video(
    source: VideoSource,
    *,
    seconds_per_hash: float = DEFAULT_SECONDS_PER_HASH,
    limits: VideoLimits = VideoLimits(),  # frozen, so one shared default is safe
) -> VideoHash:
    """Digests and vPDQ of a video given as a path, its bytes or a binary file object.

    A file object is read from its current position; nothing is written to disk. Raises
    ``UnsupportedVideoFormat``, ``VideoTooLarge`` or ``UnreadableVideo`` (and ``OSError``
    for a path that cannot be read).
    """
    if seconds_per_hash < 0:
        raise ValueError("seconds_per_hash must be non-negative")
    if isinstance(source, str | os.PathLike):
        size = os.path.getsize(source)
        _check_bytes(size, limits)
        digests = file_digests(source)
        with open(source, "rb") as handle:
            return _hash_handle(handle, digests, seconds_per_hash, limits)
    memory = _seekable(source, limits)
    start = memory.tell()
    _check_bytes(memory.seek(0, io.SEEK_END) - start, limits)
    memory.seek(start)
    digests = file_digests(memory)
    memory.seek(start)
    view = memory if start == 0 else _FromOffset(memory, start)
    return _hash_handle(view, digests, seconds_per_hash, limits)


class _FromOffset(io.RawIOBase):
    """A seekable file object seen from ``offset`` on (demuxers seek to absolute positions)."""

    def __init__(self, handle: BinaryIO, offset: int) -> None:
        super().__init__()
        self._handle = handle
        self._offset = offset

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position += self._offset
        return self._handle.seek(position, whence) - self._offset

    def tell(self) -> int:
        return self._handle.tell() - self._offset


def _seekable(source: bytes | bytearray | memoryview | BinaryIO, limits: VideoLimits) -> BinaryIO:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(source)
    if source.seekable():
        return source
    # Demuxers seek (an MP4's index is often at the end): hold a stream in memory, capped.
    buffer = io.BytesIO()
    while chunk := source.read(CHUNK_SIZE):
        buffer.write(chunk)
        _check_bytes(buffer.tell(), limits)
    buffer.seek(0)
    return buffer


def _check_bytes(size: int, limits: VideoLimits) -> None:
    if size > limits.max_bytes:
        raise VideoTooLarge(
            f"This video is too large to hash: it is {size / 1024**2:.1f} MB; "
            f"the limit is {limits.max_bytes / 1024**2:g} MB."
        )


def _hash_handle(
    handle: BinaryIO | io.RawIOBase,
    digests: dict[str, str],
    seconds_per_hash: float,
    limits: VideoLimits,
) -> VideoHash:
    start = handle.tell()
    demuxer = sniff_container(handle.read(SNIFF_BYTES))
    handle.seek(start)
    if demuxer is None:
        raise UnsupportedVideoFormat()
    try:
        # Damaged metadata (titles, tags) must not make the pictures unhashable.
        container = av.open(handle, mode="r", format=demuxer, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise UnreadableVideo() from exc
    with container:
        return _hash_container(container, digests, seconds_per_hash, limits)


def _hash_container(
    container: Any, digests: dict[str, str], seconds_per_hash: float, limits: VideoLimits
) -> VideoHash:
    if not container.streams.video:
        raise UnreadableVideo("This file has no video track to hash.")
    stream = container.streams.video[0]
    context = stream.codec_context  # None when FFmpeg has no decoder for the codec
    if context is None or context.codec.canonical_name not in ALLOWED_CODECS:
        raise UnsupportedVideoFormat()
    width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    frame_rate = _frame_rate(stream)
    declared = _declared_seconds(container, stream)
    _check_declared(width, height, frame_rate, declared, int(stream.frames or 0), limits)
    _set_threading(stream)

    frame_mod = int(seconds_per_hash * frame_rate) or 1  # filehasher.cpp m_frameMod
    rate32 = np.float32(frame_rate)  # hasher.h VideoMetadata::framerate is a float
    sampled: list[VpdqFrame] = []
    decoded = 0
    # PDQ runs on a helper thread while the decoder goes on (both release the GIL), as
    # vpdq's hashing threads do; at most _IN_FLIGHT converted frames wait in memory.
    pending: deque[tuple[int, Future[tuple[str, int]]]] = deque()

    def collect() -> None:
        number, future = pending.popleft()
        pdq, quality = future.result()
        timestamp = float(np.float32(number) / rate32)
        sampled.append(VpdqFrame(number, timestamp, pdq, quality))

    with ThreadPoolExecutor(1, thread_name_prefix="hashing-vpdq") as pool:
        for frame in _decoded_frames(container, stream):
            _check_frame(frame, decoded, limits)
            if decoded % frame_mod == 0:
                pending.append((decoded, pool.submit(_frame_pdq, _rgb(frame, width, height))))
                if len(pending) > _IN_FLIGHT:
                    collect()
            decoded += 1
        while pending:
            collect()
    if decoded == 0:
        raise UnreadableVideo()
    duration = declared if declared is not None else decoded / frame_rate
    return VideoHash(
        md5=digests["md5"],
        sha256=digests["sha256"],
        duration=duration,
        width=width,
        height=height,
        frame_rate=frame_rate,
        frames_decoded=decoded,
        sampled=tuple(sampled),
    )


def _set_threading(stream: Any) -> None:
    """Frame threading when the decoder is flushed at the end, else vpdq's own threading.

    FFmpeg's decoders return the same frames in the same order whatever the threading, but
    frame threading holds more frames back; without the final flush (step 5) those would be
    lost, so then we thread as ffmpegwrapper.cpp does: slice threads when the decoder has
    them, else one thread.
    """
    context = stream.codec_context
    if stream.index == 0:
        context.thread_type = "AUTO"
    elif context.codec.capabilities & av.codec.codec.Capabilities.slice_threads:
        context.thread_count = 0
        context.thread_type = "SLICE"
    else:
        context.thread_count = 1


def _frame_rate(stream: Any) -> float:
    """ffmpegwrapper.cpp: ``avg_frame_rate``, else ``r_frame_rate``."""
    rate: Fraction | None = stream.average_rate
    if not rate:
        rate = stream.base_rate
    if not rate or rate <= 0:
        raise UnreadableVideo("This video does not say how many frames it has per second.")
    return float(rate)


def _declared_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


def _check_declared(
    width: int,
    height: int,
    frame_rate: float,
    seconds: float | None,
    frames: int,
    limits: VideoLimits,
) -> None:
    _check_size(width, height, limits)
    if seconds is not None:
        _check_seconds(seconds, limits)
        frames = max(frames, int(seconds * frame_rate))
    _check_frames(frames, limits)


def _check_size(width: int, height: int, limits: VideoLimits) -> None:
    if width * height > limits.max_pixels:
        raise VideoTooLarge(
            f"This video is too large to hash: its frames are {width}x{height} pixels; "
            f"the limit is {limits.max_pixels / 1_000_000:g} megapixels."
        )
    if width < MIN_DIMENSION or height < MIN_DIMENSION:
        raise UnreadableVideo("This video's frames are too small to hash.")


def _check_seconds(seconds: float, limits: VideoLimits) -> None:
    if seconds > limits.max_seconds:
        raise VideoTooLarge(
            f"This video is too long to hash: it lasts {seconds / 60:.0f} minutes; "
            f"the limit is {limits.max_seconds / 60:g} minutes."
        )


def _check_frames(frames: int, limits: VideoLimits) -> None:
    if frames > limits.max_frames:
        raise VideoTooLarge(
            f"This video has too many frames to hash (the limit is {limits.max_frames})."
        )


def _check_frame(frame: Any, index: int, limits: VideoLimits) -> None:
    """Re-check on what the decoder returns: containers can lie about all of it."""
    _check_frames(index + 1, limits)
    _check_size(int(frame.width), int(frame.height), limits)
    if frame.time is not None:
        _check_seconds(float(frame.time), limits)


def _decoded_frames(container: Any, stream: Any) -> Iterator[Any]:
    try:
        for packet in container.demux(stream):
            if packet.size == 0 and stream.index != 0:
                # PyAV's end-of-file flush packet. vpdq only flushes stream 0 (step 5 above).
                continue
            yield from packet.decode()
    except av.error.FFmpegError as exc:
        raise UnreadableVideo() from exc


def _rgb(frame: Any, width: int, height: int) -> npt.NDArray[np.uint8]:
    """The frame as vpdq's ``sws_getContext(..., AV_PIX_FMT_RGB24, SWS_AREA, ...)`` makes it."""
    options: dict[str, str] = {}
    if not frame.format.is_rgb:
        # sws_getContext ignores the frame's colour tags: BT.601 matrix, range from the
        # pixel format alone (yuvj* = full range).
        full = frame.format.name.startswith("yuvj")
        options = {"src_colorspace": "ITU601", "src_color_range": "JPEG" if full else "MPEG"}
    try:
        converted = frame.reformat(
            width=width, height=height, format=_RGB, interpolation="AREA", **options
        )
        pixels: npt.NDArray[np.uint8] = converted.to_ndarray()
    except (av.error.FFmpegError, ValueError) as exc:
        raise UnreadableVideo() from exc
    return pixels


def _frame_pdq(pixels: npt.NDArray[np.uint8]) -> tuple[str, int]:
    """PDQ of full-size RGB pixels, as vpdq's PDQFrameBufferHasher (pdqhashing.cpp)."""
    from hashing import _fast

    if _fast.AVAILABLE:
        # One thread per frame: the decoder already keeps the other cores busy.
        pdq, quality, _phash, _dhash = _fast.hash_pixels(pixels, threads=1)
        return pdq, quality
    import pdqhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    return bits_to_hex(bits), int(quality)


def _hash_matrix(frames: Sequence[VpdqFrame]) -> npt.NDArray[np.uint64]:
    """(n, 4) uint64 words of the 256-bit hashes (any fixed word order works for XOR)."""
    raw = bytes.fromhex("".join(frame.pdq for frame in frames))
    return np.frombuffer(raw, dtype=np.uint64).reshape(len(frames), 4)


def _count_matched(
    rows: npt.NDArray[np.uint64], columns: npt.NDArray[np.uint64], distance: int
) -> npt.NDArray[np.bool_]:
    """For each row hash: is some column hash within ``distance`` bits?"""
    matched = np.zeros(len(rows), dtype=bool)
    if not len(rows) or not len(columns):
        return matched
    # Bound the (rows x columns x 4) working array to ~32 MB whatever the video lengths.
    step = max(1, (1 << 20) // len(columns))
    for start in range(0, len(rows), step):
        block = rows[start : start + step]
        bits = np.bitwise_count(block[:, None, :] ^ columns[None, :, :]).sum(axis=2)
        matched[start : start + step] = (bits <= distance).any(axis=1)
    return matched


def _dedupe(frames: Iterable[VpdqFrame]) -> list[VpdqFrame]:
    """python-threatexchange ``dedupe``: the first frame of each distinct hash."""
    seen: set[str] = set()
    unique: list[VpdqFrame] = []
    for frame in frames:
        if frame.pdq not in seen:
            seen.add(frame.pdq)
            unique.append(frame)
    return unique


def vpdq_match(
    query: Iterable[VpdqFrame],
    compared: Iterable[VpdqFrame],
    *,
    distance: int = PDQ_MATCH_THRESHOLD,
    query_threshold: float = VPDQ_QUERY_MATCH_THRESHOLD,
    compared_threshold: float = VPDQ_COMPARED_MATCH_THRESHOLD,
    quality_floor: int = PDQ_QUALITY_FLOOR,
) -> VpdqMatch:
    """Compare two vPDQ hashes as python-threatexchange's ``VPDQSignal.compare_hash``.

    Each side is de-duplicated, then frames under ``quality_floor`` are dropped
    (``match_VPDQ_hash_brute``). A frame of one side matches when a frame of the other is
    within ``distance`` bits (<=, python-threatexchange; vpdq's C++ tool uses <). The
    percentages are the matched share of each side (0-100; 0 for a side with no frame);
    the videos match when both reach their thresholds, given as fractions (0.8 = 80%).
    """
    left = [f for f in _dedupe(query) if f.quality >= quality_floor]
    right = [f for f in _dedupe(compared) if f.quality >= quality_floor]
    left_hashes, right_hashes = _hash_matrix(left), _hash_matrix(right)
    query_count = int(_count_matched(left_hashes, right_hashes, distance).sum())
    compared_count = int(_count_matched(right_hashes, left_hashes, distance).sum())
    query_percent = query_count * 100 / len(left) if left else 0.0
    compared_percent = compared_count * 100 / len(right) if right else 0.0
    return VpdqMatch(
        query_match_percent=query_percent,
        compared_match_percent=compared_percent,
        match=bool(
            left
            and right
            and query_percent >= query_threshold * 100
            and compared_percent >= compared_threshold * 100
        ),
    )
