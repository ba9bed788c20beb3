"""The match index agrees with hashing.index.HashIndex (the library's reference scan)."""

import random

from hashing.index import HashIndex
from portal.platforms.matching import ColumnIndex
from tests.factories import random_pdq


def test_column_index_matches_the_library_index_through_adds_and_removes():
    rng = random.Random(11)
    ours, reference = ColumnIndex("pdq", capacity=8), HashIndex("pdq")
    values = {}
    for item_id in range(3000):
        base = values[rng.randrange(item_id)] if item_id and rng.random() < 0.3 else None
        if base is not None:
            number = int(base, 16)
            for bit in rng.sample(range(256), rng.randint(0, 40)):
                number ^= 1 << bit
            value = f"{number:064x}"
        else:
            value = random_pdq(rng)
        values[item_id] = value
        ours.add(item_id, value)
        reference.add(item_id, value)
    for item_id in rng.sample(range(3000), 700):
        ours.remove(item_id)
        reference.remove(item_id)
    assert len(ours) == len(reference) == 2300
    for needle in rng.sample(list(values.values()), 100):
        for limit in (0, 10, 31, 60):
            expected = sorted(reference.query(needle, limit), key=lambda hit: (hit[1], hit[0]))
            assert ours.query(needle, limit) == expected


def test_sixty_four_bit_hashes_work_too():
    index = ColumnIndex("phash")
    index.add(1, "00000000000000ff")
    index.add(2, "ffffffffffffffff")
    assert index.query("000000000000000f", 10) == [(1, 4)]
    assert index.query("000000000000000f", -1) == []


def test_the_largest_distance_does_not_overflow():
    index = ColumnIndex("pdq")
    value = "f0" * 32
    complement = "0f" * 32
    index.add(7, value)
    assert index.query(complement, 256) == [(7, 256)]
    assert index.query(complement, 255) == []
    assert index.query(value, 0) == [(7, 0)]
