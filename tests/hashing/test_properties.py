"""Property tests (hypothesis) for the Python hashing side.

Hashing is deterministic; small JPEG re-encodes and resizes stay within the match
thresholds; a 90 degree rotation is found by the dihedral set. Runs are derandomised so a
failure reproduces exactly.
"""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from hashing import hash_bytes, hash_image
from hashing.decode import open_image
from hashing.distance import (
    PDQ_MATCH_THRESHOLD,
    PHASH_MATCH_THRESHOLD,
    hamming_distance,
)
from hashing.imagehashes import phash
from hashing.pdq import PDQ_QUALITY_FLOOR, pdq_dihedral, pdq_hash
from tests.hashing.synthetic import natural_image

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

seeds = st.integers(min_value=0, max_value=2**32 - 1)
# Photo-sized images. PDQ's robustness to rotation and resizing is a property of images of
# a few hundred pixels and up: below ~300 px the tent-filter windows are 1-3 px wide and
# the half-pixel asymmetry of decimation moves 20-50 bits (measured on 160 px synthetic
# images, and on the 256 px labelme conformance photos), so such sizes are not generated.
sizes = st.tuples(st.integers(512, 1024), st.integers(512, 1024))


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _shareable(image: Image.Image) -> Image.Image:
    # Only hashes above the quality floor are ever shared; below it PDQ is unstable by design.
    assume(pdq_hash(image).quality >= PDQ_QUALITY_FLOOR)
    return image


@PROPERTY_SETTINGS
@given(seed=seeds, size=sizes, fmt=st.sampled_from(["PNG", "JPEG", "WEBP", "GIF"]))
def test_hashing_is_deterministic(
    tmp_path_factory, seed: int, size: tuple[int, int], fmt: str
) -> None:
    data = _encode(natural_image(seed, *size), fmt)
    first = hash_bytes(data)
    assert hash_bytes(data) == first
    path: Path = tmp_path_factory.mktemp("det") / f"image.{fmt.lower()}"
    path.write_bytes(data)
    assert hash_image(path) == first
    with path.open("rb") as handle:
        assert hash_image(handle) == first


@PROPERTY_SETTINGS
@given(seed=seeds, size=sizes, quality=st.integers(70, 95))
def test_jpeg_re_encode_stays_within_thresholds(
    seed: int, size: tuple[int, int], quality: int
) -> None:
    original = _shareable(natural_image(seed, *size))
    reencoded = open_image(_encode(original, "JPEG", quality=quality))
    assert (
        hamming_distance(pdq_hash(original).hash, pdq_hash(reencoded).hash) <= PDQ_MATCH_THRESHOLD
    )
    assert hamming_distance(phash(original), phash(reencoded)) <= PHASH_MATCH_THRESHOLD


@PROPERTY_SETTINGS
@given(seed=seeds, size=sizes, scale=st.floats(0.5, 0.95))
def test_resize_stays_within_thresholds(seed: int, size: tuple[int, int], scale: float) -> None:
    original = _shareable(natural_image(seed, *size))
    width, height = original.size
    smaller = original.resize(
        (max(32, round(width * scale)), max(32, round(height * scale))),
        Image.Resampling.LANCZOS,
    )
    pdq_bits = hamming_distance(pdq_hash(original).hash, pdq_hash(smaller).hash)
    assert pdq_bits <= PDQ_MATCH_THRESHOLD
    assert hamming_distance(phash(original), phash(smaller)) <= PHASH_MATCH_THRESHOLD


@PROPERTY_SETTINGS
@given(
    seed=seeds,
    size=sizes,
    turn=st.sampled_from(
        [Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270]
    ),
)
def test_rotation_is_found_in_the_dihedral_set(
    seed: int, size: tuple[int, int], turn: Image.Transpose
) -> None:
    original = _shareable(natural_image(seed, *size))
    variants, _quality = pdq_dihedral(original)
    rotated = pdq_hash(original.transpose(turn)).hash
    nearest = min(hamming_distance(rotated, value) for value in variants.values())
    assert nearest <= PDQ_MATCH_THRESHOLD
    # ...and the rotation is not already a match without the dihedral set.
    assert hamming_distance(rotated, variants["orig"]) > PDQ_MATCH_THRESHOLD
