"""The library reproduces the shared conformance data exactly (../shared/conformance/)."""

from __future__ import annotations

import pytest
from PIL import Image

from hashing import hash_image, imagehashes
from hashing.decode import open_image
from hashing.distance import bit_count
from hashing.pdq import pdq_dihedral, pdq_hash, pdq_hash_reference
from tests.support.conformance import (
    IMAGEHASH_DIR,
    PDQ_DIR,
    PDQ_EXPECTED,
    pdq_generated_rows,
    read_csv,
)

PYTX_ROWS = [
    row
    for row in read_csv(PDQ_EXPECTED / "pdq-expected-hashes.csv")
    if row["source"] == "pytx-signal-examples"
]
GENERATED_ROWS = pdq_generated_rows()
DIHEDRAL_ROWS = read_csv(PDQ_EXPECTED / "generated" / "pdq-dihedral-pdqhash-0.2.8.csv")
IMAGEHASH_ROWS = read_csv(PDQ_EXPECTED / "generated" / "imagehash-4.3.2.csv")
IMAGEHASH_GOLDEN = read_csv(IMAGEHASH_DIR / "expected-hashes.csv")
# colorhash is in the golden file but is not one of our algorithms.
IMAGEHASH_GOLDEN_OURS = [row for row in IMAGEHASH_GOLDEN if row["algorithm"] != "colorhash"]


def test_conformance_data_is_present() -> None:
    assert len(PYTX_ROWS) == 14
    assert len(GENERATED_ROWS) == 41
    assert len(DIHEDRAL_ROWS) == 64
    assert len(IMAGEHASH_GOLDEN) == 5


@pytest.mark.parametrize("row", PYTX_ROWS, ids=lambda row: row["image"])
def test_pdq_matches_python_threatexchange_examples(row: dict[str, str]) -> None:
    result = hash_image(PDQ_DIR / row["image"])
    assert result["pdq"] == row["hash"]


@pytest.mark.parametrize("row", GENERATED_ROWS, ids=lambda row: row["image"])
def test_pdq_matches_pdqhash_full_resolution_with_exif_applied(row: dict[str, str]) -> None:
    image = open_image(PDQ_DIR / row["image"])
    for result in (pdq_hash(image), pdq_hash_reference(image)):
        assert result.hash == row["pdq_full_exif_applied"]
        assert result.quality == int(row["quality_full_exif_applied"])


@pytest.mark.parametrize("row", GENERATED_ROWS, ids=lambda row: row["image"])
def test_pdq_hash_of_a_real_image_has_128_bits_set(row: dict[str, str]) -> None:
    # Torben's lower median with a strict "greater than" leaves exactly half the bits set
    # on any image whose DCT coefficients are distinct (all of these).
    result = hash_image(PDQ_DIR / row["image"])
    assert bit_count(result["pdq"]) == 128


def test_exif_orientation_is_applied_before_hashing() -> None:
    (row,) = [r for r in GENERATED_ROWS if r["exif_orientation"] == "6"]
    result = hash_image(PDQ_DIR / row["image"])
    assert result["pdq"] == row["pdq_full_exif_applied"]
    assert result["pdq"] != row["pdq_full"]


@pytest.mark.parametrize(
    "image_name", sorted({row["image"] for row in DIHEDRAL_ROWS}), ids=lambda name: name
)
def test_pdq_dihedral_variants_match_pdqhash(image_name: str) -> None:
    expected = {row["xform"]: row for row in DIHEDRAL_ROWS if row["image"] == image_name}
    variants, quality = pdq_dihedral(open_image(PDQ_DIR / image_name))
    assert set(variants) == set(expected)
    for name, row in expected.items():
        assert variants[name] == row["hash"], name
        assert quality == int(row["quality"])


@pytest.mark.parametrize("row", IMAGEHASH_GOLDEN_OURS, ids=lambda row: row["algorithm"])
def test_imagehash_golden_vector(row: dict[str, str]) -> None:
    hashers = {
        "average_hash": imagehashes.ahash,
        "phash": imagehashes.phash,
        "dhash": imagehashes.dhash,
        "whash": imagehashes.whash,
    }
    path = IMAGEHASH_DIR / row["image"]
    # Upstream hashes Image.open() directly; our decode policy gives the same pixels here
    # (the PNG is fully opaque), so both must reproduce the golden value.
    with Image.open(path) as raw:
        assert hashers[row["algorithm"]](raw) == row["hash"]
    assert hashers[row["algorithm"]](open_image(path)) == row["hash"]


@pytest.mark.parametrize(
    "row", IMAGEHASH_ROWS, ids=lambda row: f"{row['image']}-exif{row['exif_applied']}"
)
def test_imagehash_values_match_imagehash_4_3_2(row: dict[str, str]) -> None:
    path = PDQ_DIR / row["image"]
    rotated_rows = {r["image"] for r in IMAGEHASH_ROWS if r["exif_applied"] == "1"}
    if row["exif_applied"] == "0":
        # The library functions on the raw, un-rotated file reproduce upstream exactly.
        with Image.open(path) as raw:
            image = raw.copy()
        if row["image"] in rotated_rows:
            assert imagehashes.phash(open_image(path)) != row["phash"]
    else:
        image = open_image(path)
    assert imagehashes.ahash(image) == row["average_hash"]
    assert imagehashes.phash(image) == row["phash"]
    assert imagehashes.dhash(image) == row["dhash"]
    assert imagehashes.whash(image) == row["whash"]
    if row["image"] not in rotated_rows:
        # Our decode policy (RGB, flattened, oriented) gives the same values for every
        # un-rotated conformance image, whatever its Pillow mode.
        decoded = open_image(path)
        assert imagehashes.phash(decoded) == row["phash"]
        assert imagehashes.dhash(decoded) == row["dhash"]


@pytest.mark.parametrize("row", IMAGEHASH_ROWS[:1], ids=lambda row: row["image"])
def test_hash_image_record_has_exactly_the_documented_keys(row: dict[str, str]) -> None:
    result = hash_image(PDQ_DIR / row["image"])
    assert list(result) == ["media", "md5", "sha256", "pdq", "pdq_quality", "phash", "dhash"]
    assert result["media"] == "image"
    assert result["phash"] == row["phash"]
    assert result["dhash"] == row["dhash"]
