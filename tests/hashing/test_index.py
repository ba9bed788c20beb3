"""HashIndex agrees with a brute-force scan (conformance hash lists and random data)."""

from __future__ import annotations

import random

import numpy as np
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
            assert found == _brute_force(stored, needle, 120)
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
    index.add(5, "0" * 16)
    assert index.query("0" * 16, -1) == []
    assert index.query("f" * 16, 64) == [(5, 64)]


def _near(rng: random.Random, base: str, flips: int) -> str:
    number = int(base, 16)
    for bit in rng.sample(range(256), flips):
        number ^= 1 << bit
    return f"{number:064x}"


def test_planted_near_duplicates_agree_with_brute_force_through_adds_and_removes() -> None:
    rng = random.Random(11)
    index = HashIndex("pdq", capacity=8)
    stored: dict[int, str] = {}
    for item_id in range(3000):
        if item_id and rng.random() < 0.3:
            value = _near(rng, stored[rng.randrange(item_id)], rng.randint(0, 40))
        else:
            value = f"{sum(1 << b for b in rng.sample(range(256), 128)):064x}"
        stored[item_id] = value
        index.add(item_id, value)
    for item_id in rng.sample(range(3000), 700):
        index.remove(item_id)
        del stored[item_id]
    assert len(index) == 2300
    for needle in rng.sample(list(stored.values()), 100):
        for limit in (0, 10, 31, 60):
            assert index.query(needle, limit) == _brute_force(stored, needle, limit)


def test_from_arrays_equals_adding_one_by_one() -> None:
    rng = random.Random(3)
    values = [f"{rng.getrandbits(256):064x}" for _ in range(500)]
    ids = np.arange(1000, 1500, dtype=np.int64)
    rows = np.frombuffer(b"".join(bytes.fromhex(v) for v in values), dtype=np.uint8)
    built = HashIndex.from_arrays("pdq", ids, rows.reshape(500, 32))
    stored = dict(zip(ids.tolist(), values, strict=True))
    for needle in values[:20]:
        assert built.query(needle, 100) == _brute_force(stored, needle, 100)
    built.add(7, values[0])
    built.remove(1000)
    assert built.query(values[0], 0) == [(7, 0)]
    many = built.query_many(rows.reshape(500, 32)[:3], 0)
    assert many == [[(7, 0)], [(1001, 0)], [(1002, 0)]]
    with pytest.raises(ValueError, match="unique"):
        HashIndex.from_arrays("pdq", np.array([1, 1]), rows.reshape(500, 32)[:2])


def test_the_largest_distance_does_not_overflow() -> None:
    index = HashIndex("pdq")
    value, complement = "f0" * 32, "0f" * 32
    index.add(7, value)
    assert index.query(complement, 256) == [(7, 256)]
    assert index.query(complement, 255) == []
    assert index.query(value, 0) == [(7, 0)]
