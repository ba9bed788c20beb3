"""HashIndex agrees with a brute-force scan (conformance hash lists and random data)."""

from __future__ import annotations

import random

import pytest

from hashing.distance import InvalidHash, hamming_distance
from hashing.index import HashIndex
from tests.hashing.conftest import PDQ_DATA

INPUT = PDQ_DATA / "reg-test-input"


def _hashes(name: str) -> list[str]:
    lines = (INPUT / name).read_text().splitlines()
    return [line.split(",")[0].strip() for line in lines if line.strip()]


def _brute_force(stored: dict[int, str], needle: str, max_distance: int) -> list[tuple[int, int]]:
    found = [(item, hamming_distance(needle, value)) for item, value in stored.items()]
    return sorted(
        ((item, bits) for item, bits in found if bits <= max_distance),
        key=lambda pair: (pair[1], pair[0]),
    )


@pytest.mark.parametrize("max_distance", [0, 16, 31, 64, 128, 256])
def test_haystack_needles_agree_with_brute_force(max_distance: int) -> None:
    haystack = _hashes("haystack.txt")
    needles = _hashes("needles.txt")
    assert len(haystack) == 1350 and len(needles) == 100
    index = HashIndex("pdq")
    stored = dict(enumerate(haystack))
    for item, value in stored.items():
        index.add(item, value)
    total = 0
    for needle in needles:
        result = index.query(needle, max_distance)
        assert result == _brute_force(stored, needle, max_distance)
        total += len(result)
    if max_distance >= 31:
        assert total > 0  # the needles were chosen to have near neighbours in the haystack


@pytest.mark.parametrize("name", ["short256.dat", "long256.dat", "order256.dat"])
def test_every_stored_hash_finds_itself_first(name: str) -> None:
    hashes = _hashes(name)
    index = HashIndex("pdq")
    index.add_many(enumerate(hashes))
    for item, value in enumerate(hashes):
        nearest = index.query(value, 0)
        assert (item, 0) in nearest
        assert all(bits == 0 for _, bits in nearest)


@pytest.mark.parametrize("name", ["short64.dat", "long64.dat"])
def test_64_bit_lists_agree_with_brute_force(name: str) -> None:
    hashes = _hashes(name)
    index = HashIndex("phash")
    stored = dict(enumerate(hashes))
    index.add_many(stored.items())
    for needle in hashes[:50]:
        assert index.query(needle, 10) == _brute_force(stored, needle, 10)


def test_add_replace_and_remove_keep_the_index_consistent() -> None:
    rng = random.Random(4)
    index = HashIndex("pdq")
    stored: dict[int, str] = {}
    for step in range(3000):
        item = rng.randrange(500)
        if item in stored and rng.random() < 0.4:
            index.remove(item)
            del stored[item]
        else:
            value = f"{rng.getrandbits(256):064x}"
            index.add(item, value)
            stored[item] = value
        if step % 250 == 0:
            needle = f"{rng.getrandbits(256):064x}"
            found = index.query(needle, 120)
            # Nearest first; ties between ids come in no particular order after removals.
            assert [bits for _, bits in found] == sorted(bits for _, bits in found)
            assert sorted(found) == sorted(_brute_force(stored, needle, 120))
    assert len(index) == len(stored)
    for item, value in stored.items():
        assert item in index
        assert index.query(value, 0)[0] == (item, 0)
    with pytest.raises(KeyError):
        index.remove(-1)


def test_index_refuses_malformed_hashes() -> None:
    index = HashIndex("pdq")
    with pytest.raises(InvalidHash):
        index.add(1, "F" * 64)
    with pytest.raises(InvalidHash):
        index.query("abc", 10)
    with pytest.raises(ValueError, match="unknown"):
        HashIndex("sha1")


def test_empty_index_and_negative_distance_return_nothing() -> None:
    index = HashIndex("phash")
    assert index.query("0" * 16, 64) == []
    index.add("a", "0" * 16)
    assert index.query("0" * 16, -1) == []
    assert index.query("f" * 16, 64) == [("a", 64)]
