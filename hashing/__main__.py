"""Command line: ``python -m hashing FILE...`` (also installed as ``takeback-hash``).

Prints one JSON object per file per line::

    {"path", "media": "image", "md5", "sha256", "pdq", "pdq_quality", "phash", "dhash"}

for an image, for a video (MP4/MOV, WebM, MKV, AVI; see ``hashing.video``)::

    {"path", "media": "video", "md5", "sha256", "duration",
     "vpdq": [{"frame", "timestamp", "pdq", "quality"}, ...]}

or ``{"path", "error": "<clear message>"}`` for a file that cannot be hashed, and exits
non-zero at the end if any file failed. ``--dihedral`` adds ``"pdq_dihedral"``: the 8 PDQ
variants of the image (rotations and mirrors) keyed by name (images only).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from hashing.decode import DEFAULT_MAX_PIXELS, open_image
from hashing.digests import file_digests
from hashing.errors import HashingError

EXIT_OK = 0
EXIT_SOME_FAILED = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hashing",
        description=(
            "Print PDQ, pHash, dHash, MD5 and SHA-256 of image files, and MD5, SHA-256 and "
            "vPDQ of video files, as JSON lines."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="image or video files to hash")
    parser.add_argument(
        "--dihedral",
        action="store_true",
        help="also print the 8 PDQ hashes of the image's rotations and mirror images",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse images with more pixels than this (default {DEFAULT_MAX_PIXELS})",
    )
    return parser


def hash_path(
    path: str, *, dihedral: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS
) -> dict[str, Any]:
    """The CLI record for one file (raises ``HashingError`` or ``OSError``)."""
    from hashing._pipeline import record
    from hashing.pdq import pdq_dihedral
    from hashing.video import SNIFF_BYTES, hash_video, sniff_container

    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if sniff_container(head) is not None:
        return {"path": path, **hash_video(path).record()}

    digests = file_digests(path)
    image = open_image(path, max_pixels=max_pixels)
    result: dict[str, Any] = {"path": path, **record(digests, image)}
    if dihedral:
        variants, _quality = pdq_dihedral(image)
        result["pdq_dihedral"] = variants
    return result


def _error_message(path: str, exc: BaseException) -> str:
    if isinstance(exc, HashingError):
        return exc.message
    if isinstance(exc, FileNotFoundError):
        return "No such file."
    if isinstance(exc, IsADirectoryError):
        return "This is a directory, not a file."
    if isinstance(exc, PermissionError):
        return "Permission denied: the file could not be opened."
    if isinstance(exc, OSError):
        return f"The file could not be read ({exc.strerror or 'input/output error'})."
    return "This file could not be hashed."


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m hashing`` and the ``takeback-hash`` console script."""
    args = _parser().parse_args(argv)
    failed = False
    for path in args.files:
        try:
            result = hash_path(path, dihedral=args.dihedral, max_pixels=args.max_pixels)
        except (HashingError, OSError) as exc:
            failed = True
            result = {"path": path, "error": _error_message(path, exc)}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return EXIT_SOME_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
