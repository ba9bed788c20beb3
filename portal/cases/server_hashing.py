"""Server-side hashing, for when the browser can't: uploads hashed in memory, then dropped.

The upload handler is MemoryFileUploadHandler only (settings UPLOADS), so the
bytes never touch a disk; they are never logged, and `sensitive_variables`
keeps them out of error reports. Only the hashes leave this module.

Resource limits (issue 10, finding 3). A file's cost is its pixel count, not
its size: a 1-bit PNG of 64 megapixels is 8 kB and decodes to ~12 bytes a
pixel of working memory. So, before anything is decoded, each file's width and
height are read from its header and

- a file over TAKEBACK_UPLOAD_MAX_PIXELS_PER_FILE is refused (ImageTooLarge);
- a file that would take the request over TAKEBACK_UPLOAD_MAX_PIXELS_PER_REQUEST
  is refused, and so is every one after it that doesn't fit;
- files are decoded one at a time in a process (`HASHING_SLOTS`), so a process's
  peak memory grows by one decode: about 12 B x the per-file cap (24 MP: ~290 MB),
  plus the bodies being received (each at most TAKEBACK_MAX_UPLOAD_BYTES).

tests/portal/test_upload_limits.py measures the peak.

Videos (issue 11) are told apart by their first bytes (hashing.video.sniff_container) and
hashed with hashing.video.hash_video on an in-memory file object (PyAV reads it through
callbacks; nothing is written to disk). Their cost is decoding time rather than one
picture's memory, so they take the same one slot and are bounded by `video_limits()`:
the upload cap in bytes, TAKEBACK_UPLOAD_MAX_VIDEO_SECONDS of declared and decoded
duration, the per-file pixel cap for each frame. A video counts no pixels against the
request's image budget.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from PIL import Image

import hashing
from hashing.decode import ALLOWED_FORMATS
from hashing.video import SNIFF_BYTES, VideoLimits, hash_video, sniff_container
from portal.cases.services import SubmittedItem, item_from_record

# One decode at a time per process: the memory bound above holds however many
# requests arrive together (the others wait their turn).
HASHING_SLOTS = threading.BoundedSemaphore(1)


@dataclass(frozen=True)
class HashedUpload:
    """One uploaded file's outcome: its item, or the hashing error (safe to show)."""

    number: int  # 1-based position in the selection
    item: SubmittedItem | None = None
    error: hashing.HashingError | None = None


@sensitive_variables("data")
def image_pixels(data: bytes) -> int | None:
    """Width x height from the file's header, without decoding it (None: not an image we read)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        return 2**62  # Pillow's own bomb check fired: more than any budget
    except Exception:
        return None  # hashing reports the proper error (unsupported, damaged...)
    return max(0, width) * max(0, height)


# Frames a second a video may have, at most (DEFAULT_MAX_VIDEO_FRAMES's rate).
_MAX_VIDEO_FPS = 60


def video_limits() -> VideoLimits:
    """What the server path decodes of one video: within the in-memory upload cap."""
    seconds = settings.TAKEBACK_UPLOAD_MAX_VIDEO_SECONDS
    return VideoLimits(
        max_bytes=settings.TAKEBACK_MAX_UPLOAD_BYTES,
        max_seconds=float(seconds),
        max_pixels=settings.TAKEBACK_UPLOAD_MAX_PIXELS_PER_FILE,
        max_frames=int(seconds * _MAX_VIDEO_FPS),
    )


@sensitive_variables("data", "record")
def upload_hash(upload: Any, *, pixels_left: int | None = None) -> tuple[SubmittedItem, int]:
    """Hash one uploaded file held in memory, then drop its bytes; returns (item, pixels)."""
    try:
        data = upload.read()
    finally:
        upload.close()
    try:
        if sniff_container(data[:SNIFF_BYTES].ljust(SNIFF_BYTES, b"\0")) is not None:
            with HASHING_SLOTS:
                # Privacy: an in-memory file object, demuxed by PyAV from memory.
                record = hash_video(io.BytesIO(data), limits=video_limits()).record()
            return item_from_record(record=record), 0
        pixels = image_pixels(data) or 0
        per_file = settings.TAKEBACK_UPLOAD_MAX_PIXELS_PER_FILE
        if pixels > per_file or (pixels_left is not None and pixels > pixels_left):
            raise hashing.ImageTooLarge()
        with HASHING_SLOTS:
            record = hashing.hash_bytes(data, max_pixels=per_file)
    except hashing.HashingError:
        raise
    except Exception:
        # An unexpected failure must not carry the bytes into a traceback, a
        # log line or an error report: report it as a plain hashing error.
        raise hashing.HashingError() from None
    finally:
        del data
    return item_from_record(record=record), pixels


def uploads_hash(uploads: Iterable[Any]) -> list[HashedUpload]:
    """Hash every upload in turn, within the request's pixel budget; a failure stops no other."""
    outcomes = []
    pixels_left = settings.TAKEBACK_UPLOAD_MAX_PIXELS_PER_REQUEST
    for number, upload in enumerate(uploads, start=1):
        try:
            item, pixels = upload_hash(upload, pixels_left=pixels_left)
        except hashing.HashingError as error:
            outcomes.append(HashedUpload(number=number, error=error))
        else:
            pixels_left -= pixels
            outcomes.append(HashedUpload(number=number, item=item))
    return outcomes
