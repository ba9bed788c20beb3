"""An exact in-memory Hamming-distance index for matching many hashes at once.

Used by the portal's ``/match`` (through a live wrapper that follows the feed) and by
the platform toolkit. It is exact: every stored hash within ``max_distance`` is
returned, the same set a brute-force scan gives (tests compare the two).

Small indexes (fewer than ``MIH_MIN_ROWS`` hashes) are scanned with numpy: cheap to
build, nothing to compile. Larger ones add a **multi-index** (Norouzi, Punjani and
Fleet, "Fast exact search in Hamming space with multi-index hashing", 2014) in
compiled loops (numba):

* The bits are cut into ``m`` disjoint chunks. By the generalised pigeonhole principle,
  if two hashes differ in at most ``r`` bits and chunk ``i`` is searched within ``t_i``
  bits with ``sum(t_i + 1) >= r + 1``, at least one chunk is within its ``t_i``:
  probing every key within ``t_i`` of the needle's chunk in every chunk finds every
  match. For PDQ at 31 bits and 1 M or 10 M rows that is 11 chunks of 23-24 bits
  searched within 2 (one within 1): ~3,000 keys probed a query, against ~42,000
  candidates for 16 chunks of 16 bits within 1 (FAISS's multi-hash layout). The plan
  is chosen per size by a cost model of memory reads (``plan_chunks``).
* PDQ chunks may be wider than their buckets (which have about ``log2(N) + 1`` bits,
  so a bucket holds about half a row): an occupancy bitmap of each chunk's full keys
  (1-2 MB, mostly cached) answers most probes, 64 neighbouring keys a word read, and
  only the few keys present read their bucket (at 1 M: ~320 bucket reads and ~450
  hashes checked a query instead of ~1,400 each with 20-bit chunks).
* Each bucket holds two row numbers in place (a third or more move to a spill array),
  so a bucket is one read. Candidates are gathered first and checked in a second loop,
  blocks of 32 reduced to their nearest distance without branches, so LLVM vectorises
  the random reads of their hashes and many are in flight at once. The kernel returns
  ids sorted and deduplicated: a 1 M query is ~40 us, so Python around it is kept to a
  few operations. 64-bit hashes use CSR tables (bucket offsets, then entries) holding
  the hashes themselves, read in order.
* Rows are kept sorted by id (id -> row is a binary search, no dict of millions of
  Python ints). An addition is appended and entered into every chunk's buckets at
  once (a bucket that overflows gets a new spill segment); only the new rows' ids sit
  in a dict. Removals clear a row's alive flag. Dead rows and that dict are compacted
  (a linear rebuild, ~9 s at 10 M PDQ) by the first query after either passes
  ``N / 8`` rows. The 64-bit CSR tables cannot take rows in place: their additions go
  to a delta region that queries scan, merged once it passes ``N / 512`` rows. The
  index is exact after any sequence of adds and removes.
* A ``max_distance`` stricter than the plan's lowers the chunk radii; a wider one
  than the plan was made for falls back to a compiled exact scan.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from hashing.algorithms import ALGORITHMS
from hashing.distance import HEX_LENGTHS, HEX_PATTERNS, validate_hex

try:  # numba is a declared dependency; without it every index is a numpy scan.
    import numba
    from numba.core import types as numba_types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - exercised only in stripped-down installs
    numba = None  # type: ignore[assignment]

AVAILABLE = numba is not None

__all__ = ["MIH_MIN_ROWS", "Chunk", "HashIndex", "pack_hex", "plan_chunks"]

_INITIAL_CAPACITY = 1024
# Below this many rows a numpy scan is as fast as the multi-index and needs no compiled
# code (the portal and the tests make many small indexes).
MIH_MIN_ROWS = 4096
# A 64-bit index's delta of unmerged additions is merged once it passes N >> DELTA_SHIFT
# rows: scanning 20 k rows (10 M / 512) costs ~15 us a query, a merge at 10 M ~2.5 s.
DELTA_SHIFT = 9
# Largest chunk radius planned: the ball of radius 3 in 32 bits is 5,489 keys.
_MAX_RADIUS = 3
# A chunk's occupancy bitmap: keys sharing all but their low _WORD_BITS bits share a word.
_WORD_BITS = 6
# How many bits a chunk may be wider than its buckets (its bitmap is then at most an
# eighth of its bucket table: 11 x 1-2 MB at 1 M and 10 M rows). Measured at 1 M PDQ: 6
# bits (bitmaps as large as the tables) was no faster, and at 10 M it planned 9 chunks of
# 28-29 bits with 576 MB of bitmaps.
_FILTER_BITS = 3
# A bitmap word read's cost against a random bucket or row read: the bitmaps stay mostly
# in cache while large tables do not. Below _CACHED_ROWS the tables are cached too (~50 MB
# at 2**18 PDQ rows) and every read costs about the same: at 100 k the plain 16 chunks of
# 16 bits within 1 were faster than wider chunks behind bitmaps.
_WORD_COST = 0.3
_CACHED_ROWS = 1 << 18
# Two-slot bucket tables are sized up to this many bytes in all (see plan_chunks).
_TABLE_BUDGET = 1 << 30
# Candidates are gathered in batches of this many before their hashes are read.
_CANDIDATE_BATCH = 4096
# Candidates checked together before looking for the match among them (see _verify).
_BLOCK = 32
# Two-slot bucket markers: an empty slot; a second slot pointing into the spill array.
_EMPTY = 0xFFFFFFFF
_SPILLED = 0x80000000
# Two-slot tables take additions in place; the index is rebuilt (compacted) once dead
# rows or new rows pass N >> COMPACT_SHIFT.
COMPACT_SHIFT = 3
# query_many splits a batch over threads only when each thread gets at least this many.
_MIN_QUERIES_PER_THREAD = 32


def pack_hex(hex_value: str) -> npt.NDArray[np.uint64]:
    """Pack a hex hash into big-endian-ordered ``uint64`` words (16 hex digits per word)."""
    return np.frombuffer(bytes.fromhex(hex_value), dtype=">u8").astype(np.uint64)


def _ball_size(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(max(0, radius + 1)))


def _low_masks() -> npt.NDArray[np.int64]:
    """``[r, low]``: the word mask of the ``2**_WORD_BITS`` low parts within ``r`` of ``low``."""
    size = 1 << _WORD_BITS
    masks = np.zeros((_MAX_RADIUS + 1, size), dtype=np.uint64)
    for radius in range(_MAX_RADIUS + 1):
        for low in range(size):
            near = (v for v in range(size) if (v ^ low).bit_count() <= radius)
            masks[radius, low] = sum(1 << v for v in near)
    return masks.view(np.int64)


_LOW_MASKS = _low_masks()


@dataclass(frozen=True)
class Chunk:
    """Bits ``[start, start + width)`` of the hash (bit 0 = most significant), probed
    within ``radius`` bits.

    Rows are bucketed by the chunk's first ``bucket_width`` bits (at most ``width``); an
    occupancy bitmap over all ``width`` bits says which full keys are present, so most
    probes of a chunk wider than its buckets stop at the bitmap (see ``_search``).
    """

    start: int
    width: int
    radius: int
    bucket_width: int


def plan_chunks(bits: int, max_distance: int, rows: int, *, inline: bool) -> list[Chunk]:
    """The chunk layout with the fewest expected memory reads for ``rows`` random hashes.

    Every chunk ``i`` is searched within ``t_i`` bits, ``sum(t_i + 1) = max_distance + 1``
    (generalised pigeonhole). For 64-bit hashes (``inline``: CSR buckets holding the
    hashes) a probe reads a bucket offset and a candidate the next bucket entry; buckets
    stop at about ``log2(rows)`` bits so the offsets stay smaller than the entries.

    Otherwise a chunk may be up to ``_FILTER_BITS`` wider than its buckets: each probed
    key first reads one bit of an occupancy bitmap (64 neighbouring keys share a word,
    mostly cached), and only present keys read their bucket and then the candidate rows'
    hashes (two random reads). Wider chunks mean larger balls but far fewer present keys.
    Two-slot buckets get one bit more than ``log2(rows)`` (about half a row each: fewer
    spills and fewer rows of other keys to check; measured ~10% faster at 1 M) unless
    that would take the bucket tables past ``_TABLE_BUDGET`` bytes (at 10 M it would).
    """
    log_rows = round(math.log2(max(rows, 2)))
    best: tuple[float, list[Chunk]] | None = None
    for chunks in range(1, min(bits, max_distance + 1) + 1):
        radius, wider = divmod(max_distance + 1, chunks)
        radii = [radius] * wider + [radius - 1] * (chunks - wider)
        if max(radii) > _MAX_RADIUS:
            continue
        width, spare = divmod(bits, chunks)
        room = [min(32, width + (1 if i < spare else 0)) for i in range(chunks)]
        bucket_cap = max(1, min(32, log_rows if inline else log_rows + 1))
        while not inline and bucket_cap > log_rows and chunks * 8 << bucket_cap > _TABLE_BUDGET:
            bucket_cap -= 1
        for extra in [0] if inline else range(_FILTER_BITS + 1):
            buckets = [min(bucket_cap, w) for w in room]
            widths = [min(w, b + extra) for w, b in zip(room, buckets, strict=True)]
            if min(buckets) < 1 or (not inline and min(widths) < _WORD_BITS):
                continue
            cost = sum(
                _chunk_cost(w, b, t, rows, inline)
                for w, b, t in zip(widths, buckets, radii, strict=True)
            )
            if best is None or cost < best[0]:
                starts = np.cumsum([0, *widths[:-1]]).tolist()
                layout = zip(starts, widths, radii, buckets, strict=True)
                best = (cost, [Chunk(int(s), w, t, b) for s, w, t, b in layout])
    if best is None:
        raise ValueError(f"no chunk plan for {max_distance} of {bits} bits")
    return best[1]


def _chunk_cost(width: int, buckets: int, radius: int, rows: int, inline: bool) -> float:
    """Expected memory reads of probing one chunk (relative units, see ``plan_chunks``)."""
    if radius < 0:
        return 0.0
    probes = _ball_size(width, radius)
    if inline:
        return probes * (1.0 + 0.25 * rows / 2.0**width)
    per_key = rows / 2.0**width
    present = probes * -math.expm1(-per_key)  # probed keys holding at least one row
    # A present key's bucket holds its own rows and those of the keys sharing the prefix.
    candidates = probes * per_key + present * (rows / 2.0**buckets) * (1 - 2.0 ** (buckets - width))
    words = _ball_size(width - _WORD_BITS, radius)
    word_cost = 1.0 if rows < _CACHED_ROWS else _WORD_COST
    return word_cost * words + present + candidates


def _meta_for(
    plan: Sequence[Chunk], bases: Sequence[int], words: Sequence[int], max_distance: int
) -> npt.NDArray[np.int64]:
    """The (6, chunks) rows start/width/radius/bucket base/bucket shift/bitmap base (in
    words) for a query within ``max_distance``.

    Stricter queries than planned need only ``sum(t_i + 1) >= max_distance + 1``: the
    largest balls are shrunk first (a radius of -1 skips the chunk). A wider query than
    the plan covers gets no chunks (an empty array): the caller scans instead.
    """
    radii = [chunk.radius for chunk in plan]
    if sum(t + 1 for t in radii) < max_distance + 1:
        return np.empty((6, 0), dtype=np.int64)
    while sum(t + 1 for t in radii) > max_distance + 1:
        # Shrink the largest ball; among equal ones the narrowest chunk's (its buckets
        # hold the most rows), so the chunks left are the cheapest to probe.
        largest = max(range(len(radii)), key=lambda i: (radii[i], -plan[i].width, i))
        radii[largest] -= 1
    return np.array(
        [
            [c.start for c in plan],
            [c.width for c in plan],
            radii,
            list(bases),
            [c.width - c.bucket_width for c in plan],
            list(words),
        ],
        dtype=np.int64,
    )


if AVAILABLE:

    def _jit(**options: Any) -> Any:
        """numba.njit with on-disk caching when a cache directory is writable."""

        def decorate(function: Any) -> Any:
            try:
                return numba.njit(cache=True, nogil=True, **options)(function)
            except RuntimeError:  # no writable cache location (read-only install)
                return numba.njit(cache=False, nogil=True, **options)(function)

        return decorate

    def _popcount_typer(typingctx, value):  # type: ignore[no-untyped-def]
        """llvm.ctpop on a uint64: one POPCNT instruction."""

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            return builder.ctpop(args[0])

        return numba_types.int64(numba_types.uint64), codegen

    _popcount: Any = intrinsic(_popcount_typer)

    def _lowest_bit_typer(typingctx, value):  # type: ignore[no-untyped-def]
        """llvm.cttz on a non-zero int64: the index of its lowest set bit (one TZCNT)."""

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
            # The second argument (an i1 true): the input is never zero.
            return builder.cttz(args[0], context.get_constant(numba_types.boolean, True))

        return numba_types.int64(numba_types.int64), codegen

    _lowest_bit: Any = intrinsic(_lowest_bit_typer)

    @_jit()
    def _chunk_key(words, start, width):  # type: ignore[no-untyped-def]
        """Bits [start, start + width) of a big-endian word row, as an int64."""
        w = start >> 6
        offset = start & 63
        if offset + width <= 64:
            shifted = words[w] >> np.uint64(64 - offset - width)
        else:
            low = offset + width - 64
            high = words[w] & ((np.uint64(1) << np.uint64(64 - offset)) - np.uint64(1))
            shifted = (high << np.uint64(low)) | (words[w + 1] >> np.uint64(64 - low))
        return np.int64(shifted & ((np.uint64(1) << np.uint64(width)) - np.uint64(1)))

    @_jit()
    def _ball(key, width, radius, out):  # type: ignore[no-untyped-def]
        """Every key within ``radius`` (<= 3) bits of ``key``, into ``out``; returns the count."""
        n = 0
        out[n] = key
        n += 1
        if radius >= 1:
            for i in range(width):
                out[n] = key ^ (1 << i)
                n += 1
        if radius >= 2:
            for i in range(width):
                for j in range(i):
                    out[n] = key ^ (1 << i) ^ (1 << j)
                    n += 1
        if radius >= 3:
            for i in range(width):
                for j in range(i):
                    for k in range(j):
                        out[n] = key ^ (1 << i) ^ (1 << j) ^ (1 << k)
                        n += 1
        return n

    @_jit()
    def _probe_bitmap(bitmap, base, key, width, radius, keys):  # type: ignore[no-untyped-def]
        """The bitmap words of the keys within ``radius`` of ``key`` (a chunk of ``width``
        bits whose bitmap starts at word ``base``), masked to those keys; the non-empty ones
        go to keys[0] (word number) and keys[1] (mask). Returns how many.

        Keys differing only in their low _WORD_BITS bits share a word: the ball of the high
        bits is enumerated, and a word whose high part is h flips away is masked to the low
        parts within ``radius - h``. The word reads do not depend on each other (the
        compaction below does not branch), so they overlap; most hit the cache.
        """
        high = key >> _WORD_BITS
        low = key & ((1 << _WORD_BITS) - 1)
        high_bits = width - _WORD_BITS
        mask = _LOW_MASKS[radius, low]
        bits = bitmap[base + high] & mask
        keys[0, 0] = high
        keys[1, 0] = bits
        found = np.int64(bits != 0)
        if radius >= 1:
            mask = _LOW_MASKS[radius - 1, low]
            for i in range(high_bits):
                word = high ^ (1 << i)
                bits = bitmap[base + word] & mask
                keys[0, found] = word
                keys[1, found] = bits
                found += bits != 0
        if radius >= 2:
            mask = _LOW_MASKS[radius - 2, low]
            for i in range(high_bits):
                for j in range(i):
                    word = high ^ (1 << i) ^ (1 << j)
                    bits = bitmap[base + word] & mask
                    keys[0, found] = word
                    keys[1, found] = bits
                    found += bits != 0
        if radius >= 3:
            mask = _LOW_MASKS[radius - 3, low]
            for i in range(high_bits):
                for j in range(i):
                    for k in range(j):
                        word = high ^ (1 << i) ^ (1 << j) ^ (1 << k)
                        bits = bitmap[base + word] & mask
                        keys[0, found] = word
                        keys[1, found] = bits
                        found += bits != 0
        return found

    @_jit()
    def _emit(out_rows, out_dist, pos, row, d):  # type: ignore[no-untyped-def]
        if pos < out_rows.shape[0]:
            out_rows[pos] = row
            out_dist[pos] = d
        return pos + 1

    @_jit()
    def _verify(q, limit, hashes, alive, candidates, count, out_rows, out_dist, pos):  # type: ignore[no-untyped-def]
        """Finish the gathered candidate rows: keep live ones within ``limit``.

        Blocks of ``_BLOCK`` candidates are first reduced to their smallest distance: a loop
        without stores or branches, which LLVM vectorises (gathers + vector popcounts), so
        the random reads of many rows are in flight at once. Only a block that holds a
        match (rare) is checked again row by row. Measured: 20% off a 1M PDQ query.
        """
        words = hashes.shape[1]
        if words != 4:
            for i in range(count):
                row = candidates[i]
                d = 0
                for w in range(words):
                    d += _popcount(hashes[row, w] ^ q[w])
                if d <= limit and alive[row]:
                    pos = _emit(out_rows, out_dist, pos, row, d)
            return pos
        # PDQ and SHA-256: unrolled, the needle in registers.
        q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
        for block in range(0, count, _BLOCK):
            stop = min(block + _BLOCK, count)
            nearest = 1 << 20
            for i in range(block, stop):
                row = candidates[i]
                d = (
                    _popcount(hashes[row, 0] ^ q0)
                    + _popcount(hashes[row, 1] ^ q1)
                    + _popcount(hashes[row, 2] ^ q2)
                    + _popcount(hashes[row, 3] ^ q3)
                )
                nearest = min(nearest, d)
            if nearest > limit:
                continue
            for i in range(block, stop):
                row = candidates[i]
                d = (
                    _popcount(hashes[row, 0] ^ q0)
                    + _popcount(hashes[row, 1] ^ q1)
                    + _popcount(hashes[row, 2] ^ q2)
                    + _popcount(hashes[row, 3] ^ q3)
                )
                if d <= limit and alive[row]:
                    pos = _emit(out_rows, out_dist, pos, row, d)
        return pos

    @_jit()
    def _scan(q, limit, hashes, first, end, alive, out_rows, out_dist, pos):  # type: ignore[no-untyped-def]
        """Exact scan of rows [first, end)."""
        words = hashes.shape[1]
        for row in range(first, end):
            d = 0
            for w in range(words):
                d += _popcount(hashes[row, w] ^ q[w])
            if d <= limit and alive[row]:
                pos = _emit(out_rows, out_dist, pos, row, d)
        return pos

    @_jit()
    def _search(  # type: ignore[no-untyped-def]
        q, limit, hashes, alive, main, end, meta, offsets, table, rows, bitmap, keys,
        candidates, out_rows, out_dist, pos,
    ):  # fmt: skip
        """Multi-index search of the merged rows, then a scan of the delta rows.

        ``meta`` rows: chunk start bit, width, radius, offset base; no chunks means the
        plan cannot cover ``limit`` and every row is scanned. Returns the new output
        position; past the output's size hits are counted but not written (the caller
        grows the buffers and repeats). A row found through several chunks is reported
        once per chunk (callers dedupe).
        """
        chunks = meta.shape[1]
        if chunks == 0:
            return _scan(q, limit, hashes, 0, end, alive, out_rows, out_dist, pos)
        inline = rows.shape[1] > 0
        count = 0
        room = candidates.shape[0] - 2
        for c in range(chunks):
            if meta[2, c] < 0:
                continue
            key = _chunk_key(q, meta[0, c], meta[1, c])
            probes = _ball(key, meta[1, c], meta[2, c], keys[0])
            base = meta[3, c]
            if inline:
                # CSR buckets holding the 64-bit hashes themselves: read in order.
                for p in range(probes):
                    slot = base + keys[0, p]
                    keys[0, p] = offsets[slot]
                    keys[1, p] = offsets[slot + 1]
                for p in range(probes):
                    for j in range(keys[0, p], keys[1, p]):
                        d = _popcount(table[c, j] ^ q[0])
                        if d <= limit:
                            row = np.int64(rows[c, j])
                            if alive[row]:
                                pos = _emit(out_rows, out_dist, pos, row, d)
                continue
            # Two-slot buckets behind an occupancy bitmap: the non-empty masked words of
            # the ball, then their present keys' buckets (a key's first bucket_width bits).
            radius = meta[2, c]
            nonzero = _probe_bitmap(bitmap, meta[5, c], key, meta[1, c], radius, keys)
            shift = meta[4, c]
            present = 0
            for p in range(nonzero):
                bits = keys[1, p]
                while bits != 0:
                    bit = _lowest_bit(bits)
                    bits ^= np.int64(1) << bit
                    keys[2, present] = ((keys[0, p] << _WORD_BITS) | bit) >> shift
                    present += 1
            # Read every present key's bucket first: these loads do not wait on each other
            # nor on the (rare) overflow branch below, so they overlap.
            for p in range(present):
                slot = base + 2 * keys[2, p]
                keys[0, p] = offsets[slot]
                keys[1, p] = offsets[slot + 1]
            # Gather the rows held in place. A bucket of three rows or more points to a
            # spill segment: only its start is noted here (keys[2]), as reading it now
            # would wait a full memory latency per spilled bucket (a quarter of the
            # present keys' buckets at 1 M rows); the segments are read after, together.
            segments = 0
            for p in range(present):
                first = keys[0, p]
                second = keys[1, p]
                candidates[count] = first
                candidates[count + 1] = second
                count += (first != _EMPTY) + (second < _SPILLED)
                keys[2, segments] = second - _SPILLED
                segments += (second >= _SPILLED) & (second != _EMPTY)
                if count >= room:
                    pos = _verify(
                        q, limit, hashes, alive, candidates, count, out_rows, out_dist, pos
                    )
                    count = 0
            for s in range(segments):  # the segments' lengths: loads that overlap
                keys[0, s] = table[0, keys[2, s]]
            for s in range(segments):
                first = keys[2, s] + 1
                for j in range(first, first + keys[0, s]):
                    candidates[count] = table[0, j]
                    count += 1
                    if count >= room:
                        pos = _verify(
                            q, limit, hashes, alive, candidates, count, out_rows, out_dist, pos
                        )
                        count = 0
        pos = _verify(q, limit, hashes, alive, candidates, count, out_rows, out_dist, pos)
        return _scan(q, limit, hashes, main, end, alive, out_rows, out_dist, pos)

    @_jit()
    def _finish(ids, out_rows, out_dist, start, stop):  # type: ignore[no-untyped-def]
        """Hits [start, stop) as ids, nearest first then by id, each once; returns the new stop.

        Done here rather than in numpy: a query's few hits cost microseconds of Python
        calls otherwise. (A row found through several chunks is listed once per chunk.)
        """
        count = stop - start
        got_ids = out_rows[start:stop]
        got_dist = out_dist[start:stop]
        for i in range(count):
            got_ids[i] = ids[got_ids[i]]
        if count <= 32:  # insertion sort by (distance, id)
            for i in range(1, count):
                item, d = got_ids[i], got_dist[i]
                j = i - 1
                while j >= 0 and (got_dist[j] > d or (got_dist[j] == d and got_ids[j] > item)):
                    got_ids[j + 1] = got_ids[j]
                    got_dist[j + 1] = got_dist[j]
                    j -= 1
                got_ids[j + 1] = item
                got_dist[j + 1] = d
        else:  # two stable sorts: by id, then by distance
            by_id = np.argsort(got_ids, kind="mergesort")
            order = by_id[np.argsort(got_dist[by_id], kind="mergesort")]
            sorted_ids, sorted_dist = got_ids[order], got_dist[order]
            got_ids[:] = sorted_ids
            got_dist[:] = sorted_dist
        kept = 0
        for i in range(count):
            if kept == 0 or got_ids[i] != got_ids[kept - 1]:
                got_ids[kept] = got_ids[i]
                got_dist[kept] = got_dist[i]
                kept += 1
        return start + kept

    @_jit()
    def _search_bytes(  # type: ignore[no-untyped-def]
        q8, q, limit, hashes, ids, alive, main, end, meta, offsets, table, rows, bitmap, keys,
        candidates, out_rows, out_dist,
    ):  # fmt: skip
        """``_search`` of one needle given as its ``bytes.fromhex`` bytes (uint8), finished:
        returns the number of ``(id, distance)`` results in out_rows/out_dist, or, if they
        did not fit, a larger number of hits (grow the buffers and repeat)."""
        for w in range(q.shape[0]):
            word = np.uint64(0)
            for b in range(8):
                word = (word << np.uint64(8)) | np.uint64(q8[8 * w + b])
            q[w] = word
        found = _search(
            q, limit, hashes, alive, main, end, meta, offsets, table, rows, bitmap, keys,
            candidates, out_rows, out_dist, 0,
        )  # fmt: skip
        if found > out_rows.shape[0]:
            return found
        return _finish(ids, out_rows, out_dist, 0, found)

    @_jit()
    def _search_batch(  # type: ignore[no-untyped-def]
        queries, first_query, limit, hashes, ids, alive, main, end, meta, offsets, table, rows,
        bitmap, keys, candidates, out_rows, out_dist, out_end,
    ):  # fmt: skip
        """``_search`` for queries from ``first_query`` on; query i's finished results (see
        ``_finish``) end at out_end[i].

        Stops before a query whose hits do not fit and returns its number
        (``queries.shape[0]`` when all are done).
        """
        pos = 0
        cap = out_rows.shape[0]
        for i in range(first_query, queries.shape[0]):
            after = _search(
                queries[i], limit, hashes, alive, main, end, meta, offsets, table, rows, bitmap,
                keys, candidates, out_rows, out_dist, pos,
            )  # fmt: skip
            if after > cap:
                return i
            pos = out_end[i] = _finish(ids, out_rows, out_dist, pos, after)
        return queries.shape[0]

    @_jit()
    def _build_chunk(hashes, count, start, width, shift, offsets, rows, bitmap):  # type: ignore[no-untyped-def]
        """Counting sort of rows [0, count) by bucket (their chunk key >> ``shift``) into one
        CSR table; marks the keys present in ``bitmap`` (if not empty) on the way."""
        buckets = offsets.shape[0] - 1
        marks = bitmap.shape[0] > 0
        if marks:
            bitmap[:] = 0
        for i in range(buckets + 1):
            offsets[i] = 0
        for row in range(count):
            key = _chunk_key(hashes[row], start, width)
            offsets[(key >> shift) + 1] += 1
            if marks:
                bitmap[key >> _WORD_BITS] |= np.int64(1) << (key & 63)
        for i in range(buckets):
            offsets[i + 1] += offsets[i]
        fill = offsets[:-1].copy()
        for row in range(count):
            bucket = _chunk_key(hashes[row], start, width) >> shift
            rows[fill[bucket]] = row
            fill[bucket] += 1

    @_jit()
    def _fill_slots(offsets, rows, slots, spill, spilled):  # type: ignore[no-untyped-def]
        """Two-slot buckets from one CSR table; returns the new end of ``spill``.

        A bucket of k rows is [row, row] (k = 2), [row, EMPTY] (k = 1), [EMPTY, EMPTY]
        (k = 0) or [row, SPILLED + s] with ``spill[s] = k - 1`` followed by the others;
        ``spill`` is this chunk's piece of the spill array, which starts at ``spilled``.
        """
        here = 0  # position in ``spill``, this chunk's piece of the spill array
        for key in range(offsets.shape[0] - 1):
            first = offsets[key]
            size = offsets[key + 1] - first
            slots[2 * key] = rows[first] if size >= 1 else _EMPTY
            if size <= 2:
                slots[2 * key + 1] = rows[first + 1] if size == 2 else _EMPTY
            else:
                slots[2 * key + 1] = _SPILLED + spilled + here
                spill[0, here] = size - 1
                for j in range(1, size):
                    spill[0, here + j] = rows[first + j]
                here += size
        return spilled + here

    @_jit()
    def _insert_slots(words, row, layout, slots, spill, spilled, bitmap, first_chunk):  # type: ignore[no-untyped-def]
        """Add ``row`` (hash ``words``) to every chunk's two-slot buckets from ``first_chunk``
        and mark its keys present in the bitmaps (a removal leaves them set: harmless).

        A third row moves the bucket's others to a new spill segment at ``spilled`` (the old
        segment becomes garbage until the next rebuild). Returns (new end of the spill
        array, chunks done); fewer than all chunks means the spill array is full: the
        caller grows it and calls again from there.
        """
        for c in range(first_chunk, layout.shape[1]):
            key = _chunk_key(words, layout[0, c], layout[1, c])
            bitmap[layout[5, c] + (key >> _WORD_BITS)] |= np.int64(1) << (key & 63)
            slot = layout[3, c] + 2 * (key >> layout[4, c])
            first = slots[slot]
            second = slots[slot + 1]
            if first == _EMPTY:
                slots[slot] = row
                continue
            if second == _EMPTY:
                slots[slot + 1] = row
                continue
            if second < _SPILLED:
                need = np.int64(3)
                if spilled + need > spill.shape[1]:
                    return spilled, c
                spill[0, spilled] = 2
                spill[0, spilled + 1] = second
            else:
                old = np.int64(second) - _SPILLED
                others = np.int64(spill[0, old])
                need = others + 2
                if spilled + need > spill.shape[1]:
                    return spilled, c
                spill[0, spilled] = others + 1
                for j in range(1, others + 1):
                    spill[0, spilled + j] = spill[0, old + j]
            spill[0, spilled + need - 1] = row
            slots[slot + 1] = _SPILLED + spilled
            spilled += need
        return spilled, layout.shape[1]


@dataclass
class _Tables:
    """The multi-index: one table per chunk (two-slot buckets, or CSR for 64-bit hashes)."""

    plan: list[Chunk]
    bases: list[int]
    offsets: npt.NDArray[np.uint32]
    # (chunks, main + 2) row numbers by bucket (2 columns of padding); for 64-bit hashes
    # the bucket entries' hashes (chunks, main) and their row numbers in ``rows``.
    table: npt.NDArray[Any]
    rows: npt.NDArray[np.uint32]
    # Two-slot tables take new rows in place (``HashIndex.add``); the spill array is used
    # up to here, the rest is room for that.
    insertable: bool = False
    spilled: int = 0
    # Two-slot tables: each chunk's occupancy bitmap of its full keys, from word_bases[c].
    bitmap: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    word_bases: list[int] | None = None
    meta: dict[int, npt.NDArray[np.int64]] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.table.nbytes + self.rows.nbytes + self.bitmap.nbytes)

    def meta_for(self, max_distance: int) -> npt.NDArray[np.int64]:
        meta = self.meta.get(max_distance)
        if meta is None:
            words = self.word_bases or [0] * len(self.plan)
            meta = self.meta[max_distance] = _meta_for(self.plan, self.bases, words, max_distance)
        return meta


class HashIndex:
    """Exact Hamming-distance index of one algorithm (``"pdq"``, ``"phash"``, ...).

    ``add(id, hex)`` replaces any hash stored under the same id; ``remove(id)`` forgets
    it; ``query(hex, max_distance)`` returns ``[(id, distance), ...]``, nearest first,
    ties by id. Ids are integers. Queries may run in several threads at once (each sees
    one consistent state); ``add`` and ``remove`` must not overlap with anything else:
    callers serialise them. ``query_many`` uses threads itself.
    """

    def __init__(self, algorithm: str, *, capacity: int = _INITIAL_CAPACITY) -> None:
        if algorithm not in HEX_LENGTHS:
            raise ValueError(f"unknown hash algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.words = max(1, HEX_LENGTHS[algorithm] // 16)
        # The radius the multi-index is planned for: the algorithm's match threshold.
        self.planned_distance = ALGORITHMS[algorithm].threshold
        self._pattern = HEX_PATTERNS[algorithm]  # the strict wire form (validate_hex's)
        capacity = max(1, capacity)
        # Rows [0, main) are merged (sorted by id, some maybe dead); [main, end) is the
        # delta of recent additions, all alive, found through ``_delta``.
        self._hashes = np.zeros((capacity, self.words), dtype=np.uint64)
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._alive = np.zeros(capacity, dtype=np.uint8)
        self._main = 0
        self._end = 0
        self._dead = 0  # dead rows among the merged ones
        self._garbage = 0  # dead rows among those added in place since
        self._delta: dict[int, int] = {}
        self._tables: _Tables | None = None
        self._merge_lock = threading.Lock()
        self._current: _View | None = None  # what queries read; reset by every change
        self._local = threading.local()  # per-thread query buffers

    @classmethod
    def from_arrays(
        cls, algorithm: str, ids: npt.NDArray[np.int64], hashes: npt.NDArray[np.uint8]
    ) -> HashIndex:
        """An index of ``hashes`` (uint8, one row of ``bits/8`` bytes per id) under ``ids``.

        A row is ``bytes.fromhex(hex)`` of the hash; ids must be unique.
        """
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8)
        index = cls(algorithm, capacity=1)
        if hashes.ndim != 2 or hashes.shape != (len(ids), index.words * 8):
            raise ValueError(f"hashes must have shape ({len(ids)}, {index.words * 8})")
        index._load(ids, hashes.view(">u8"))
        return index

    def __len__(self) -> int:
        return self._main - self._dead + len(self._delta)

    def __contains__(self, item_id: object) -> bool:
        if not isinstance(item_id, int | np.integer):
            return False
        return item_id in self._delta or self._main_row(int(item_id)) is not None

    @property
    def nbytes(self) -> int:
        """Bytes held in arrays (hashes, ids, flags and the multi-index tables)."""
        tables = self._tables.nbytes if self._tables is not None else 0
        return int(self._hashes.nbytes + self._ids.nbytes + self._alive.nbytes + tables)

    def add(self, item_id: int, hex_value: str) -> None:
        """Store ``hex_value`` (strict wire form) under ``item_id``."""
        packed = self._pack(hex_value)
        self._current = None
        item_id = int(item_id)
        tables = self._tables
        if tables is not None and tables.insertable:
            # Indexed at once: a new row, entered into every chunk's buckets.
            old = self._delta.pop(item_id, None)
            if old is None:
                self._kill_main(item_id)
            else:
                self._alive[old] = 0
                self._garbage += 1
            new_row = self._end
            if new_row == self._ids.shape[0]:
                self._grow(max(_INITIAL_CAPACITY, new_row >> 2))
            self._hashes[new_row] = packed
            self._ids[new_row] = item_id
            self._alive[new_row] = 1
            self._delta[item_id] = new_row
            self._insert(tables, new_row)
            self._end += 1
            return
        row = self._delta.get(item_id)
        if row is None:
            self._kill_main(item_id)
            row = self._end
            if row == self._ids.shape[0]:
                self._grow(max(_INITIAL_CAPACITY, row >> 2))
            self._delta[item_id] = row
            self._ids[row] = item_id
            self._alive[row] = 1
            self._end += 1
        self._hashes[row] = packed

    def add_many(self, items: Iterable[tuple[int, str]]) -> None:
        for item_id, hex_value in items:
            self.add(item_id, hex_value)

    def remove(self, item_id: int) -> None:
        """Forget ``item_id``; raises ``KeyError`` if it is not stored."""
        item_id = int(item_id)
        self._current = None
        row = self._delta.pop(item_id, None)
        if row is None:
            if not self._kill_main(item_id):
                raise KeyError(item_id)
            return
        if self._tables is not None and self._tables.insertable:
            self._alive[row] = 0  # the tables refer to the row: it stays, dead
            self._garbage += 1
            return
        last = self._end - 1
        if row != last:
            # Keep the delta dense: move its last row into the hole.
            moved = int(self._ids[last])
            self._hashes[row] = self._hashes[last]
            self._ids[row] = moved
            self._delta[moved] = row
        self._alive[last] = 0
        self._end -= 1

    def query(self, hex_value: str, max_distance: int) -> list[tuple[int, int]]:
        """Every stored ``(id, distance)`` with ``distance <= max_distance``, nearest first."""
        # The hot path of /match: a 1 M-row PDQ query is ~30 us of compiled work, so each
        # microsecond of Python here counts (measured; hence no helper calls).
        if type(hex_value) is not str or self._pattern.match(hex_value) is None:
            validate_hex(self.algorithm, hex_value)  # raises the usual InvalidHash
        needle = bytes.fromhex(hex_value)
        if max_distance < 0:
            return []
        view = self._current or self._view()
        tables = view.tables
        if tables is None:
            if view.end == 0:
                return []
            words = np.frombuffer(needle, dtype=">u8").astype(np.uint64)
            return _numpy_query(view, words, max_distance)
        scratch = self._local.__dict__.get("scratch")
        if scratch is None:
            scratch = self._local.scratch = _scratch_arrays(self.words, 256)
        keys, candidates, q, out_ids, out_dist = scratch
        meta = tables.meta.get(max_distance)
        if meta is None:
            meta = tables.meta_for(max_distance)
        while True:
            found = _search_bytes(
                needle, q, max_distance, view.hashes, view.ids, view.alive, view.main, view.end,
                meta, tables.offsets, tables.table, tables.rows, tables.bitmap, keys,
                candidates, out_ids, out_dist,
            )  # fmt: skip
            if found <= out_ids.shape[0]:
                if found == 0:
                    return []
                return list(zip(out_ids[:found].tolist(), out_dist[:found].tolist(), strict=True))
            scratch = self._local.scratch = _scratch_arrays(self.words, found)
            keys, candidates, q, out_ids, out_dist = scratch

    def query_many(
        self, hashes: npt.NDArray[np.uint8], max_distance: int
    ) -> list[list[tuple[int, int]]]:
        """``query`` for each row of ``hashes`` (uint8, ``bytes.fromhex`` rows).

        Large indexes split the batch over the CPU cores (compiled code, GIL released).
        """
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8)
        if hashes.ndim != 2 or hashes.shape[1] != self.words * 8:
            raise ValueError(f"hashes must have shape (n, {self.words * 8})")
        view = self._view()
        if view.tables is None or max_distance < 0 or len(self) == 0:
            return [self.query(bytes(row).hex(), max_distance) for row in hashes]
        queries = hashes.view(">u8").astype(np.uint64)
        threads = min(_cpu_count(), max(1, len(queries) // _MIN_QUERIES_PER_THREAD))
        bounds = np.linspace(0, len(queries), threads + 1).astype(np.int64).tolist()
        parts = [queries[lo:hi] for lo, hi in itertools.pairwise(bounds)]
        if threads == 1:
            found = [_batch(view, parts[0], max_distance)]
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                found = list(pool.map(lambda part: _batch(view, part, max_distance), parts))
        return [result for part in found for result in part]

    # -- internals -------------------------------------------------------------------

    def _pack(self, hex_value: str) -> npt.NDArray[np.uint64]:
        validate_hex(self.algorithm, hex_value)
        return pack_hex(hex_value)

    def _main_row(self, item_id: int) -> int | None:
        """The live merged row holding ``item_id``, if any (merged ids are sorted)."""
        if self._main == 0:
            return None
        row = int(np.searchsorted(self._ids[: self._main], item_id))
        if row < self._main and self._ids[row] == item_id and self._alive[row]:
            return row
        return None

    def _kill_main(self, item_id: int) -> bool:
        row = self._main_row(item_id)
        if row is None:
            return False
        self._alive[row] = 0
        self._dead += 1
        return True

    def _grow(self, extra: int) -> None:
        self._hashes = np.concatenate(
            [self._hashes, np.zeros((extra, self.words), dtype=np.uint64)]
        )
        self._ids = np.concatenate([self._ids, np.zeros(extra, dtype=np.int64)])
        self._alive = np.concatenate([self._alive, np.zeros(extra, dtype=np.uint8)])

    def _maybe_merge(self) -> None:
        """Rebuild (compact) once dead rows, new ids or a 64-bit delta have grown too much."""
        size = len(self)
        if not AVAILABLE or size < MIH_MIN_ROWS:
            if self._tables is not None:
                self._merge()  # shrank below the threshold: back to a plain scan
            return
        tables = self._tables
        if tables is None:
            self._merge()
        elif tables.insertable:
            # Only dead rows and the id dict of new rows grow: compact now and then.
            limit = max(MIH_MIN_ROWS, self._main >> COMPACT_SHIFT)
            if self._dead + self._garbage > limit or len(self._delta) > limit:
                self._merge()
        else:
            limit = max(MIH_MIN_ROWS, self._main >> DELTA_SHIFT)
            if len(self._delta) > limit or self._dead > limit:
                self._merge()

    def _insert(self, tables: _Tables, row: int) -> None:
        layout = tables.meta_for(self.planned_distance)
        done = 0
        while done < layout.shape[1]:
            tables.spilled, done = _insert_slots(
                self._hashes[row], row, layout, tables.offsets, tables.table, tables.spilled,
                tables.bitmap, done,
            )  # fmt: skip
            if done < layout.shape[1]:  # the spill array is full: a quarter more room
                size = tables.table.shape[1]
                grown = np.zeros((1, size + max(_INITIAL_CAPACITY, size >> 2)), dtype=np.uint32)
                grown[0, : tables.spilled] = tables.table[0, : tables.spilled]
                tables.table = grown

    def _merge(self) -> None:
        live = np.flatnonzero(self._alive[: self._end])
        self._load(self._ids[live], self._hashes[live])

    def _load(self, ids: npt.NDArray[np.int64], words: npt.NDArray[Any]) -> None:
        """Replace the contents with ``ids``/``words`` (stored sorted by id, tables rebuilt).

        ``words`` may be big-endian (a view of the uploaded bytes): converted on copy.
        """
        order = None
        if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
            if bool(np.any(ids[1:] == ids[:-1])):
                raise ValueError("ids must be unique")
        count = len(ids)
        self._current = None
        indexed = AVAILABLE and count >= MIH_MIN_ROWS
        spare = max(_INITIAL_CAPACITY, count >> DELTA_SHIFT) if indexed else _INITIAL_CAPACITY
        self._tables = None  # free the old tables before building new ones
        hashes = np.empty((count + spare, self.words), dtype=np.uint64)
        if order is None:
            hashes[:count] = words
        else:
            np.take(words, order, axis=0, out=hashes[:count])
        self._hashes = hashes
        self._ids = np.zeros(count + spare, dtype=np.int64)
        self._ids[:count] = ids
        self._alive = np.zeros(count + spare, dtype=np.uint8)
        self._alive[:count] = 1
        self._dead = self._garbage = 0
        if indexed:
            self._main = self._end = count
            self._delta = {}
            self._tables = self._build_tables(count)
        else:
            # A plain scan: every row lives in the delta.
            self._main, self._end = 0, count
            self._delta = dict(zip(ids.tolist(), range(count), strict=True))

    def _build_tables(self, count: int) -> _Tables:
        inline = self.words == 1
        plan = plan_chunks(self.words * 64, self.planned_distance, count, inline=inline)
        keys = [1 << chunk.width for chunk in plan]
        order = np.empty(count, dtype=np.uint32)
        if inline:
            # CSR per chunk: offsets, then the bucket entries' hashes and row numbers.
            sizes = [k + 1 for k in keys]
            bases = [0, *itertools.accumulate(sizes)][:-1]
            offsets = np.empty(sum(sizes), dtype=np.uint32)
            table = np.empty((len(plan), count), dtype=np.uint64)
            rows = np.empty((len(plan), count), dtype=np.uint32)
            no_bitmap = np.empty(0, dtype=np.int64)
            for c, chunk in enumerate(plan):
                span = offsets[bases[c] : bases[c] + sizes[c]]
                _build_chunk(
                    self._hashes, count, chunk.start, chunk.width, 0, span, order, no_bitmap
                )
                np.take(self._hashes[:, 0], order, out=table[c])
                rows[c] = order
            return _Tables(plan=plan, bases=bases, offsets=offsets, table=table, rows=rows)
        # Two-slot buckets per chunk (``offsets``), one spill array (``table``) and the
        # chunks' occupancy bitmaps.
        keys = [1 << chunk.bucket_width for chunk in plan]
        bases = [0, *itertools.accumulate(2 * k for k in keys)][:-1]
        word_counts = [1 << (chunk.width - _WORD_BITS) for chunk in plan]
        word_bases = [0, *itertools.accumulate(word_counts)][:-1]
        bitmap = np.empty(sum(word_counts), dtype=np.int64)
        slots = np.empty(2 * sum(keys), dtype=np.uint32)
        pieces = []
        spilled = 0
        csr = np.empty(max(keys) + 1, dtype=np.uint32)
        for c, chunk in enumerate(plan):
            words = bitmap[word_bases[c] : word_bases[c] + word_counts[c]]
            span = csr[: keys[c] + 1]
            shift = chunk.width - chunk.bucket_width
            _build_chunk(self._hashes, count, chunk.start, chunk.width, shift, span, order, words)
            counts = np.diff(span)
            spill = np.empty(int(counts[counts > 2].sum(dtype=np.int64)), dtype=np.uint32)
            del counts
            bucket_slots = slots[bases[c] : bases[c] + 2 * keys[c]]
            after = _fill_slots(span, order, bucket_slots, spill[None, :], spilled)
            assert after - spilled == spill.size
            spilled = after
            pieces.append(spill)
        room = np.zeros(max(_INITIAL_CAPACITY, spilled >> 3), dtype=np.uint32)
        return _Tables(
            plan=plan,
            bases=bases,
            offsets=slots,
            table=np.concatenate([*pieces, room])[None, :],  # 2-D like the 64-bit tables
            rows=np.empty((len(plan), 0), dtype=np.uint32),
            insertable=True,
            spilled=spilled,
            bitmap=bitmap,
            word_bases=word_bases,
        )

    def _view(self) -> _View:
        """The arrays a query reads, after merging the delta if it is due.

        Merges happen under a lock and replace the arrays (never change them in place), so
        concurrent queries each see one consistent state.
        """
        view = self._current
        if view is not None:
            return view
        with self._merge_lock:
            self._maybe_merge()
            tables = self._tables
            # Rows added in place are in the tables; only a CSR index scans its delta.
            scan_from = self._end if tables is not None and tables.insertable else self._main
            view = _View(self._hashes, self._ids, self._alive, scan_from, self._end, tables)
            self._current = view
            return view


class _View(NamedTuple):
    hashes: npt.NDArray[np.uint64]
    ids: npt.NDArray[np.int64]
    alive: npt.NDArray[np.uint8]
    main: int  # rows from here on are scanned, not looked up in the tables
    end: int
    tables: _Tables | None


def _scratch_arrays(words: int, results: int) -> list[npt.NDArray[Any]]:
    """Work buffers of one caller: ball keys, candidates, needle, hits."""
    return [
        np.empty((3, _ball_size(32, _MAX_RADIUS)), dtype=np.int64),
        np.empty(_CANDIDATE_BATCH, dtype=np.int64),
        np.empty(words, dtype=np.uint64),
        np.empty(results, dtype=np.int64),
        np.empty(results, dtype=np.int64),
    ]


def _batch(
    view: _View, queries: npt.NDArray[np.uint64], max_distance: int
) -> list[list[tuple[int, int]]]:
    """The compiled batch search of ``queries`` (one thread's share of ``query_many``)."""
    tables = view.tables
    assert tables is not None
    meta = tables.meta_for(max_distance)
    keys, candidates, _, out_rows, out_dist = _scratch_arrays(
        queries.shape[1], max(1024, 4 * len(queries))
    )
    results: list[list[tuple[int, int]]] = []
    out_end = np.zeros(len(queries), dtype=np.int64)
    first = 0
    while first < len(queries):
        done = _search_batch(
            queries, first, max_distance, view.hashes, view.ids, view.alive, view.main, view.end,
            meta, tables.offsets, tables.table, tables.rows, tables.bitmap, keys, candidates,
            out_rows, out_dist, out_end,
        )  # fmt: skip
        start = 0
        for i in range(first, done):
            stop = int(out_end[i])
            results.append(_pairs(out_rows, out_dist, start, stop))
            start = stop
        if done == first:  # one query's hits did not fit in the empty buffer
            out_rows = np.empty(2 * out_rows.shape[0], dtype=np.int64)
            out_dist = np.empty(2 * out_dist.shape[0], dtype=np.int64)
        first = done
    return results


def _pairs(
    ids: npt.NDArray[np.int64], dist: npt.NDArray[np.int64], start: int, stop: int
) -> list[tuple[int, int]]:
    """The finished results ``[start, stop)`` of a compiled search as ``(id, distance)``."""
    if start == stop:
        return []
    return list(zip(ids[start:stop].tolist(), dist[start:stop].tolist(), strict=True))


def _results(
    view: _View, rows: npt.NDArray[np.int64], dist: npt.NDArray[np.int64]
) -> list[tuple[int, int]]:
    """Sorted ``(id, distance)`` pairs; a row found through several chunks once."""
    if rows.size == 0:
        return []
    if rows.size <= 8:
        # The usual case (one or a few matches, maybe found through several chunks):
        # plain Python is cheaper than numpy's per-call overhead here.
        found = set(zip(view.ids[rows].tolist(), dist.tolist(), strict=True))
        return sorted(found, key=_nearest_first)
    ids = view.ids[rows]
    if ids.size > 1:
        order = np.lexsort((ids, dist))
        ids, dist = ids[order], dist[order]
        keep = np.ones(ids.size, dtype=bool)
        keep[1:] = ids[1:] != ids[:-1]
        ids, dist = ids[keep], dist[keep]
    return list(zip(ids.tolist(), dist.tolist(), strict=True))


def _nearest_first(pair: tuple[int, int]) -> tuple[int, int]:
    return pair[1], pair[0]


def _numpy_query(
    view: _View, needle: npt.NDArray[np.uint64], max_distance: int
) -> list[tuple[int, int]]:
    """Plain scan of a small index (all rows are delta rows, all alive)."""
    dist = np.bitwise_count(view.hashes[: view.end] ^ needle).sum(axis=1, dtype=np.int64)
    rows = np.flatnonzero(dist <= max_distance)
    return _results(view, rows, dist[rows])


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
