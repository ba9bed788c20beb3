"""Typed errors raised by the hashing library.

Callers (the CLI, the Django views, the API) turn these into messages for a person. Every
message is safe to show as is: it never contains pixel data, a file path or a hash.
"""

from __future__ import annotations


class HashingError(Exception):
    """Base class: an input that cannot be hashed, with a message fit to show a person."""

    default_message = "This file could not be hashed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0])


class UnreadableImage(HashingError):
    """The file claims to be an image we support but its contents are damaged or truncated."""

    default_message = "This image is damaged or incomplete and could not be read."


class ImageTooLarge(HashingError):
    """The image declares more pixels than we are willing to decode (decompression-bomb guard)."""

    default_message = "This image is too large to hash."


class UnsupportedFormat(HashingError):
    """The bytes are not an image in one of the formats we decode."""

    default_message = (
        "This file is not an image format we can hash "
        "(supported: JPEG, PNG, GIF, WebP, HEIC/HEIF, AVIF, BMP, TIFF)."
    )


class InvalidHash(HashingError, ValueError):
    """A hash string does not have the strict wire form of its algorithm."""

    default_message = "This is not a valid hash."


class UnreadableVideo(HashingError):
    """The file is in a video container we support but is damaged, truncated or empty."""

    default_message = "This video is damaged or incomplete and could not be read."


class VideoTooLarge(HashingError):
    """The video exceeds a size, duration, resolution or frame-count limit (bomb guard)."""

    default_message = "This video is too large to hash."


class UnsupportedVideoFormat(UnsupportedFormat):
    """A video container or codec we do not decode."""

    default_message = (
        "This video format is not one we can hash (supported: MP4/MOV, WebM, MKV and AVI "
        "with H.264, HEVC, VP8, VP9, AV1, MPEG-4 Part 2 or Motion JPEG video)."
    )
