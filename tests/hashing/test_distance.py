"""Wire-form validation, Hamming distances, thresholds and the algorithm registry."""

from __future__ import annotations

import pytest

from hashing.decode import open_image
from hashing.distance import (
    HEX_LENGTHS,
    MATCH_THRESHOLDS,
    PDQ_MATCH_THRESHOLD,
    PHASH_MATCH_THRESHOLD,
    bit_count,
    distance,
    hamming_distance,
    is_match,
    is_valid_hex,
    normalise_hex,
    validate_hex,
)
from hashing.errors import InvalidHash
from hashing.pdq import PDQ_QUALITY_FLOOR, PdqHash
from hashing.signals import SIGNALS, get_signal
from tests.support.conformance import PDQ_DATA, PDQ_EXPECTED

SHORT256 = [
    line.strip()
    for line in (PDQ_DATA / "reg-test-input" / "short256.dat").read_text().splitlines()
    if line.strip()
]

# hashtool256 matrix for short256.dat, from the 2019 Java reg-test expected output
# (../shared/conformance/pdq/expected/upstream/java-reg_test-expected-out.bak...).
UPSTREAM_MATRIX = [
    [0, 4, 122, 125, 124, 132],
    [4, 0, 124, 127, 122, 134],
    [122, 124, 0, 3, 120, 136],
    [125, 127, 3, 0, 119, 137],
    [124, 122, 120, 119, 0, 256],
    [132, 134, 136, 137, 256, 0],
]

# One valid example per algorithm (each from a conformance image where possible).
EXAMPLES = {
    "pdq": "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
    "phash": "aca29c1c33dc23d7",
    "dhash": "b7b78fa7173336d6",
    "ahash": "43d3e3010110fa3a",
    "whash": "43d7e30303b0fe3a",
    "md5": "d35c785545392755e7e4164457657269",
    "sha256": "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298",
}


def test_upstream_matrix_is_the_one_in_the_conformance_file() -> None:
    text = next((PDQ_EXPECTED / "upstream").glob("java-reg_test-*")).read_text()
    rows = text.split("hashtool256 matrix ./reg_test/input/short256.dat")[1].strip().splitlines()
    assert [[int(cell) for cell in row.split()] for row in rows[:6]] == UPSTREAM_MATRIX


def test_pdq_distances_reproduce_the_upstream_matrix() -> None:
    for i, first in enumerate(SHORT256):
        for j, second in enumerate(SHORT256):
            assert distance("pdq", first, second) == UPSTREAM_MATRIX[i][j]


def test_thresholds_have_their_documented_values() -> None:
    assert PDQ_MATCH_THRESHOLD == 31
    assert PHASH_MATCH_THRESHOLD == 10
    assert PDQ_QUALITY_FLOOR == 50
    assert MATCH_THRESHOLDS["md5"] == MATCH_THRESHOLDS["sha256"] == 0


def test_quality_floor_decides_whether_a_pdq_hash_is_shareable() -> None:
    assert PdqHash(EXAMPLES["pdq"], 50).is_shareable
    assert not PdqHash(EXAMPLES["pdq"], 49).is_shareable


@pytest.mark.parametrize("algorithm", sorted(HEX_LENGTHS))
def test_strict_wire_form(algorithm: str) -> None:
    example = EXAMPLES[algorithm]
    assert len(example) == HEX_LENGTHS[algorithm]
    assert validate_hex(algorithm, example) == example
    for bad in (
        example.upper(),
        example[:-1],
        example + "0",
        " " + example,
        example + "\n",
        "g" + example[1:],
        "0x" + example[2:],
        None,
        int(example, 16),
    ):
        assert not is_valid_hex(algorithm, bad)
        with pytest.raises(InvalidHash):
            validate_hex(algorithm, bad)


@pytest.mark.parametrize("algorithm", sorted(HEX_LENGTHS))
def test_normalise_accepts_what_people_paste(algorithm: str) -> None:
    example = EXAMPLES[algorithm]
    assert normalise_hex(algorithm, f"  {example.upper()}\n") == example
    with pytest.raises(InvalidHash):
        normalise_hex(algorithm, example[:-2])


def test_unknown_algorithm_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        is_valid_hex("sha1", "00")


def test_hamming_distance_and_matching() -> None:
    base = EXAMPLES["phash"]
    flipped = f"{int(base, 16) ^ 0b1011:016x}"
    assert hamming_distance(base, flipped) == 3
    assert is_match("phash", base, flipped)
    far = f"{int(base, 16) ^ ((1 << 11) - 1):016x}"
    assert distance("phash", base, far) == 11
    assert not is_match("phash", base, far)
    assert is_match("phash", base, far, threshold=11)
    with pytest.raises(InvalidHash):
        hamming_distance(base, base + "00")


def test_bit_count() -> None:
    assert bit_count("0" * 64) == 0
    assert bit_count("f" * 64) == 256
    assert bit_count(EXAMPLES["pdq"]) == 128


def test_registry_lists_every_algorithm_with_one_interface() -> None:
    assert set(SIGNALS) == set(HEX_LENGTHS)
    for name, algorithm in SIGNALS.items():
        assert algorithm.name == name
        assert algorithm.algorithm.hex_length == HEX_LENGTHS[name]
        assert algorithm.threshold == MATCH_THRESHOLDS[name]
        example = EXAMPLES[name]
        assert algorithm.validate(example) == example
        assert algorithm.normalise(example.upper()) == example
        same = algorithm.compare(example, example)
        assert (same.match, same.distance) == (True, 0)
        other = f"{int(example, 16) ^ 1:0{HEX_LENGTHS[name]}x}"
        one_bit = algorithm.compare(example, other)
        assert one_bit.distance == 1
        assert one_bit.match is (algorithm.threshold >= 1)
    with pytest.raises(KeyError, match="known"):
        get_signal("sha1")


def test_registry_hashes_images_and_bytes() -> None:
    path = PDQ_DATA / "bridge-mods" / "aaa-orig.jpg"
    image = open_image(path)
    for name in ("pdq", "phash", "dhash", "ahash", "whash"):
        algorithm = get_signal(name)
        assert algorithm.algorithm.perceptual
        assert algorithm.hash_image(image) == EXAMPLES[name]
        with pytest.raises(TypeError):
            algorithm.hash_bytes(b"")
    data = path.read_bytes()
    for name in ("md5", "sha256"):
        algorithm = get_signal(name)
        assert not algorithm.algorithm.perceptual
        assert algorithm.hash_bytes(data) == EXAMPLES[name]
        with pytest.raises(TypeError):
            algorithm.hash_image(image)
