"""HashIndex agrees with a brute-force scan: conformance hash lists, random data, planted
near-duplicates at every distance, clustered families, adds and removes through merges."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import hashing.index as index_module
from hashing.distance import InvalidHash, hamming_distance
from hashing.index import HashIndex, plan_chunks
from tests.support.conformance import PDQ_DATA

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


# -- the multi-index (hashing.index above MIH_MIN_ROWS rows) ---------------------------

BITS = {"pdq": 256, "phash": 64, "dhash": 64, "md5": 128}
THRESHOLD = {"pdq": 31, "phash": 10, "dhash": 10, "md5": 0}


def _random_rows(rng: np.random.Generator, count: int, algorithm: str) -> np.ndarray:
    return rng.integers(0, 256, (count, BITS[algorithm] // 8), dtype=np.uint8)


def _flip(rng: np.random.Generator, row: np.ndarray, flips: int) -> np.ndarray:
    bits = np.unpackbits(row)
    where = rng.choice(bits.size, flips, replace=False)
    bits[where] ^= 1
    return np.packbits(bits)


def _families(rng: np.random.Generator, algorithm: str, count: int, size: int) -> np.ndarray:
    """``count`` random roots, each with ``size - 1`` relatives 0..1.5x threshold away."""
    roots = _random_rows(rng, count, algorithm)
    spread = max(2, THRESHOLD[algorithm] * 3 // 2)
    rows = [
        root if i == 0 else _flip(rng, root, int(rng.integers(0, spread + 1)))
        for root in roots
        for i in range(size)
    ]
    return np.stack(rows)


class _Mirror:
    """What the index should hold, answered by brute force (numpy popcount)."""

    def __init__(self, ids: np.ndarray, rows: np.ndarray) -> None:
        self.rows = {int(i): row.copy() for i, row in zip(ids, rows, strict=True)}
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._cached_for: object = None

    def distances(self, needle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = (len(self.rows), id(self.rows), sum(map(id, self.rows.values())))
        if self._cache is None or self._cached_for != key:
            ids = np.fromiter(self.rows, dtype=np.int64, count=len(self.rows))
            self._cache = (ids, np.stack(list(self.rows.values())))
            self._cached_for = key
        ids, table = self._cache
        return ids, np.unpackbits(table ^ needle, axis=1).sum(axis=1)

    def query(self, needle: np.ndarray, max_distance: int) -> list[tuple[int, int]]:
        if not self.rows:
            return []
        return _within(*self.distances(needle), max_distance)


def _within(ids: np.ndarray, dist: np.ndarray, max_distance: int) -> list[tuple[int, int]]:
    keep = np.flatnonzero(dist <= max_distance)
    return sorted(((int(ids[i]), int(dist[i])) for i in keep), key=lambda pair: (pair[1], pair[0]))


def _check(index: HashIndex, mirror: _Mirror, needles: np.ndarray, distances: list[int]) -> int:
    found = 0
    for needle in needles:
        ids, dist = mirror.distances(needle)
        for max_distance in distances:
            expected = _within(ids, dist, max_distance)
            assert index.query(bytes(needle).hex(), max_distance) == expected
            found += len(expected)
    return found


@pytest.fixture
def small_multi_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the multi-index from 64 rows on, so tests can afford many merges."""
    monkeypatch.setattr(index_module, "MIH_MIN_ROWS", 64)


@pytest.mark.parametrize(
    ("algorithm", "distances"),
    [("pdq", [0, 1, 2, 8, 15, 16, 30, 31, 32, 48]), ("phash", [0, 1, 3, 9, 10, 11, 16])],
)
def test_multi_index_agrees_with_brute_force_on_random_data(
    algorithm: str, distances: list[int]
) -> None:
    rng = np.random.default_rng(16)
    rows = _random_rows(rng, 12_000, algorithm)
    ids = rng.permutation(1_000_000)[: len(rows)].astype(np.int64)  # unsorted, sparse
    index = HashIndex.from_arrays(algorithm, ids, rows)
    assert index._tables is not None  # the multi-index is in use
    mirror = _Mirror(ids, rows)
    # Random needles (mostly nothing near) and near copies of stored rows.
    needles = np.concatenate(
        [
            _random_rows(rng, 20, algorithm),
            np.stack(
                [
                    _flip(rng, rows[rng.integers(len(rows))], int(rng.integers(0, 40)))
                    for _ in range(40)
                ]
            ),
        ]
    )
    assert _check(index, mirror, needles, distances) > 0


@pytest.mark.parametrize("algorithm", ["pdq", "phash", "dhash"])
def test_a_near_duplicate_is_found_at_every_distance_up_to_the_threshold(algorithm: str) -> None:
    rng = np.random.default_rng(31)
    rows = _random_rows(rng, 8_000, algorithm)
    ids = np.arange(len(rows), dtype=np.int64)
    index = HashIndex.from_arrays(algorithm, ids, rows)
    assert index._tables is not None
    mirror = _Mirror(ids, rows)
    threshold = THRESHOLD[algorithm]
    for distance in range(threshold + 1):
        for _ in range(6):
            target = int(rng.integers(len(rows)))
            needle = _flip(rng, rows[target], distance)
            found = index.query(bytes(needle).hex(), threshold)
            assert (target, distance) in found
            ids, dist = mirror.distances(needle)
            assert found == _within(ids, dist, threshold)
            # Stricter queries too: the plan's radii shrink, still exact.
            assert index.query(bytes(needle).hex(), distance) == _within(ids, dist, distance)


@pytest.mark.parametrize("algorithm", ["pdq", "phash"])
def test_clustered_families_agree_with_brute_force(algorithm: str) -> None:
    rng = np.random.default_rng(7)
    rows = _families(rng, algorithm, 250, 24)  # 6,000 rows in families of 24
    ids = np.arange(10, 10 + len(rows), dtype=np.int64)
    index = HashIndex.from_arrays(algorithm, ids, rows)
    mirror = _Mirror(ids, rows)
    needles = np.stack(
        [_flip(rng, rows[rng.integers(len(rows))], int(rng.integers(0, 12))) for _ in range(50)]
    )
    threshold = THRESHOLD[algorithm]
    found = _check(index, mirror, needles, [0, threshold // 2, threshold])
    assert found > 150  # needles have relatives within the threshold
    many = index.query_many(needles, threshold)
    assert many == [mirror.query(needle, threshold) for needle in needles]


def test_many_hits_for_one_needle_grow_the_result_buffers() -> None:
    rng = np.random.default_rng(5)
    root = _random_rows(rng, 1, "pdq")[0]
    rows = np.concatenate(
        [
            np.stack([_flip(rng, root, int(rng.integers(0, 20))) for _ in range(3_000)]),
            _random_rows(rng, 3_000, "pdq"),
        ]
    )
    ids = np.arange(len(rows), dtype=np.int64)
    index = HashIndex.from_arrays("pdq", ids, rows)
    mirror = _Mirror(ids, rows)
    expected = mirror.query(root, 31)
    assert len(expected) >= 3_000
    assert index.query(bytes(root).hex(), 31) == expected
    assert index.query_many(np.stack([root] * 70), 31) == [expected] * 70


@pytest.mark.parametrize("algorithm", ["pdq", "phash"])
def test_adds_replacements_and_removals_stay_exact_through_merges(
    algorithm: str, small_multi_index: None
) -> None:
    rng = np.random.default_rng(99)
    start = _families(rng, algorithm, 40, 5)
    ids = np.arange(len(start), dtype=np.int64) * 2
    index = HashIndex.from_arrays(algorithm, ids, start)
    mirror = _Mirror(ids, start)
    threshold = THRESHOLD[algorithm]
    merges = 0
    tables = index._tables
    for step in range(1_500):
        stored = list(mirror.rows)
        action = rng.random()
        if action < 0.3 and stored:
            victim = stored[int(rng.integers(len(stored)))]
            index.remove(victim)
            del mirror.rows[victim]
        else:
            item = int(rng.integers(0, 1_200))  # reuses ids: replacements in main and delta
            if stored and rng.random() < 0.5:
                base = mirror.rows[stored[int(rng.integers(len(stored)))]]
                row = _flip(rng, base, int(rng.integers(0, threshold + 3)))
            else:
                row = _random_rows(rng, 1, algorithm)[0]
            index.add(item, bytes(row).hex())
            mirror.rows[item] = row
        if step % 25 == 0:
            assert len(index) == len(mirror.rows)
            stored = list(mirror.rows)
            needle = mirror.rows[stored[int(rng.integers(len(stored)))]]
            needle = _flip(rng, needle, int(rng.integers(0, threshold + 1)))
            for max_distance in (0, threshold // 2, threshold, threshold + 5):
                assert index.query(bytes(needle).hex(), max_distance) == mirror.query(
                    needle, max_distance
                )
            if index._tables is not tables:
                merges += 1
                tables = index._tables
    assert merges >= 3  # the delta was merged into the tables several times
    assert len(index) == len(mirror.rows)
    for item in list(mirror.rows)[:100]:
        assert item in index
    assert -5 not in index and "x" not in index


def test_removing_below_the_threshold_returns_to_a_plain_scan(small_multi_index: None) -> None:
    rng = np.random.default_rng(2)
    rows = _random_rows(rng, 100, "pdq")
    index = HashIndex.from_arrays("pdq", np.arange(100, dtype=np.int64), rows)
    assert index._tables is not None
    for item in range(60):
        index.remove(item)
    assert index.query(bytes(rows[70]).hex(), 0) == [(70, 0)]
    assert index._tables is None
    assert index.query(bytes(rows[10]).hex(), 0) == []
    with pytest.raises(KeyError):
        index.remove(10)


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_exact_digests_use_the_multi_index_too(algorithm: str, small_multi_index: None) -> None:
    rng = np.random.default_rng(4)
    width = 16 if algorithm == "md5" else 32
    rows = rng.integers(0, 256, (500, width), dtype=np.uint8)
    index = HashIndex.from_arrays(algorithm, np.arange(500, dtype=np.int64), rows)
    assert index._tables is not None
    mirror = _Mirror(np.arange(500), rows)
    needles = np.concatenate([rows[:10], rng.integers(0, 256, (5, width), dtype=np.uint8)])
    assert _check(index, mirror, needles, [0, 1, 40]) >= 10


def test_query_many_equals_query_on_a_large_index() -> None:
    rng = np.random.default_rng(8)
    rows = _random_rows(rng, 9_000, "pdq")
    index = HashIndex.from_arrays("pdq", np.arange(len(rows), dtype=np.int64), rows)
    needles = np.stack([_flip(rng, rows[i], int(rng.integers(0, 35))) for i in range(200)])
    for max_distance in (-1, 0, 20, 31, 40):
        expected = [index.query(bytes(needle).hex(), max_distance) for needle in needles]
        assert index.query_many(needles, max_distance) == expected
    with pytest.raises(ValueError, match="shape"):
        index.query_many(rows[:, :16], 31)


@pytest.mark.parametrize(("bits", "distance"), [(256, 31), (256, 0), (64, 10), (128, 0)])
@pytest.mark.parametrize("rows", [64, 5_000, 1_000_000, 10_000_000])
def test_chunk_plans_satisfy_the_pigeonhole_bound(bits: int, distance: int, rows: int) -> None:
    plan = plan_chunks(bits, distance, rows, inline=bits == 64)
    assert sum(chunk.radius + 1 for chunk in plan) >= distance + 1
    assert all(0 <= chunk.radius <= 3 and 1 <= chunk.width <= 32 for chunk in plan)
    assert all(1 <= chunk.bucket_width <= chunk.width for chunk in plan)
    ends = [chunk.start + chunk.width for chunk in plan]
    assert [0, *ends[:-1]] == [chunk.start for chunk in plan] and ends[-1] <= bits


@pytest.mark.parametrize(("rows", "wider"), [(1_000_000, 11), (10_000_000, 3)])
def test_pdq_plans_filter_wide_chunks_through_bitmaps_within_the_memory_budget(
    rows: int, wider: int
) -> None:
    plan = plan_chunks(256, 31, rows, inline=False)
    # Chunks wider than their buckets: most probed keys stop at the occupancy bitmap. (At
    # 10 M the 11 chunks of 23-24 bits use all 256 bits and the buckets already 23.)
    assert sum(chunk.width > chunk.bucket_width for chunk in plan) == wider
    tables = sum(8 << chunk.bucket_width for chunk in plan)
    bitmaps = sum(1 << (chunk.width - 3) for chunk in plan)
    assert tables <= index_module._TABLE_BUDGET and bitmaps <= tables // 8


def test_rows_sharing_a_bucket_but_not_a_key_are_still_checked_exactly() -> None:
    """Buckets hold every row with the same first bits, whatever the rest of the chunk."""
    rng = np.random.default_rng(17)
    rows = _random_rows(rng, 8_000, "pdq")
    # Half the rows copy a chunk-0 bucket prefix (its first 8 bits) of row 0.
    rows[1::2, 0] = rows[0, 0]
    index = HashIndex.from_arrays("pdq", np.arange(len(rows), dtype=np.int64), rows)
    tables = index._tables
    assert tables is not None and tables.plan[0].width > tables.plan[0].bucket_width
    mirror = _Mirror(np.arange(len(rows)), rows)
    needles = np.stack([_flip(rng, rows[i], int(rng.integers(0, 32))) for i in range(0, 400, 7)])
    assert _check(index, mirror, needles, [0, 12, 31]) >= len(needles) // 2


def test_chunk_keys_match_a_bit_string_reference() -> None:
    rng = random.Random(1)
    for _ in range(300):
        value = rng.getrandbits(256)
        words = np.frombuffer(value.to_bytes(32, "big"), dtype=">u8").astype(np.uint64)
        width = rng.randint(1, 32)
        start = rng.randint(0, 256 - width)
        expected = (value >> (256 - start - width)) & ((1 << width) - 1)
        assert index_module._chunk_key(words, start, width) == expected


def test_concurrent_queries_see_one_consistent_state(small_multi_index: None) -> None:
    rng = np.random.default_rng(12)
    rows = _random_rows(rng, 3_000, "pdq")
    index = HashIndex.from_arrays("pdq", np.arange(3_000, dtype=np.int64), rows[:3_000])
    extra = _random_rows(rng, 500, "pdq")
    for offset, row in enumerate(extra):  # more than the delta limit: the next query merges
        index.add(10_000 + offset, bytes(row).hex())
    mirror = _Mirror(
        np.concatenate([np.arange(3_000), 10_000 + np.arange(500)]), np.concatenate([rows, extra])
    )
    needles = np.concatenate([rows[:40], extra[:40]])
    expected = [mirror.query(needle, 31) for needle in needles]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(lambda needle: index.query(bytes(needle).hex(), 31), list(needles) * 3)
        )
    assert answers == expected * 3


def test_additions_are_indexed_in_place_without_a_rebuild() -> None:
    rng = np.random.default_rng(21)
    rows = _random_rows(rng, 6_000, "pdq")
    ids = np.arange(len(rows), dtype=np.int64)
    index = HashIndex.from_arrays("pdq", ids, rows)
    tables = index._tables
    assert tables is not None and tables.insertable
    spill = tables.table.shape[1]
    mirror = _Mirror(ids, rows)
    # One family of 400 near copies: the same buckets fill up and spill again and again.
    root = rows[0]
    for offset in range(400):
        row = _flip(rng, root, int(rng.integers(0, 6)))
        index.add(100_000 + offset, bytes(row).hex())
        mirror.rows[100_000 + offset] = row
    for item in range(1, 300):  # replacements of merged rows, and removals
        row = _random_rows(rng, 1, "pdq")[0]
        index.add(item, bytes(row).hex())
        mirror.rows[item] = row
    for item in range(300, 400):
        index.remove(item)
        del mirror.rows[item]
    for item in range(100_000, 100_100):
        index.remove(item)
        del mirror.rows[item]
    needles = np.concatenate([rows[:5], rows[300:305], np.stack([root] * 2)])
    needles = np.concatenate([needles, _random_rows(rng, 3, "pdq")])
    assert _check(index, mirror, needles, [0, 10, 31, 40]) > 300
    assert index._tables is tables  # no rebuild: the same tables took every addition
    assert tables.table.shape[1] > spill  # the spill array grew
    assert len(index) == len(mirror.rows)
