"""Fuzz the image decoder as the server-side hashing path uses it: no crash, no hang.

Inputs: valid small images in every accepted format with bytes flipped,
inserted and cut; raw random bytes; and PNGs whose header (with a correct CRC)
claims any size and pixel format over a tiny body (decompression bombs). The
only acceptable outcomes are an item of hashes or a `hashing.HashingError`
(safe to show), each within HANG_SECONDS.
"""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import hashing
from portal.cases import server_hashing
from tests.fuzz.support import time_limit

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same inputs every run: a failure reproduces
)
FORMATS = ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"]


def _seed(fmt: str) -> bytes:
    image = Image.effect_mandelbrot((48, 32), (-2, -1.2, 1, 1.2), 60).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


SEEDS = {fmt: _seed(fmt) for fmt in FORMATS}


class _Upload(io.BytesIO):
    name = "fuzz.bin"


def _hash(data: bytes, target: str) -> None:
    with time_limit(target):
        try:
            item, _ = server_hashing.upload_hash(_Upload(data))
        except hashing.HashingError:
            return
    assert item.hashes["sha256"]


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(FORMATS))])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            del data[at:]
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_images_hash_or_fail_cleanly(data):
    _hash(data, "decoder: mutated images")


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_fail_cleanly(data):
    _hash(data, "decoder: random bytes")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@FUZZ
@given(
    width=st.integers(1, 2**31 - 1),
    height=st.integers(1, 2**31 - 1),
    depth_and_colour=st.sampled_from([(1, 0), (8, 0), (16, 0), (8, 2), (16, 2), (8, 6), (1, 3)]),
    body=st.binary(max_size=256),
    compressed_zeros=st.integers(0, 4_000_000),
)
def test_png_headers_that_lie_about_their_size_are_refused_quickly(
    width, height, depth_and_colour, body, compressed_zeros
):
    depth, colour = depth_and_colour
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    pixels = zlib.compress(b"\0" * compressed_zeros + body, 9)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )
    _hash(data, "decoder: lying PNG headers")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_seeds_themselves_hash(fmt):
    item, pixels = server_hashing.upload_hash(_Upload(SEEDS[fmt]))
    assert pixels == 48 * 32 and item.hashes["md5"]
