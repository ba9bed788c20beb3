"""An exact in-memory Hamming-distance index for matching many hashes at once.

Used by the portal's `/match` (through a live wrapper that follows the feed) and by
the platform toolkit. It is exact: every stored hash within ``max_distance`` is
returned, the same set a brute-force scan gives (tests compare the two).

Layout: one ``uint64`` column per 64-bit word of the hash, so a query scans each
column with in-place numpy operations. For 256-bit PDQ the distance over the
first two words (at most 128 bits) is a lower bound of the full distance: rows are
pruned with it and only the few survivors are finished. Random PDQ hashes differ
in ~64 of those 128 bits, so almost every row is dropped after half the work.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from hashing.distance import HEX_LENGTHS, validate_hex

_INITIAL_CAPACITY = 1024


def pack_hex(hex_value: str) -> npt.NDArray[np.uint64]:
    """Pack a hex hash into big-endian-ordered ``uint64`` words (16 hex digits per word)."""
    return np.frombuffer(bytes.fromhex(hex_value), dtype=">u8").astype(np.uint64)


class HashIndex:
    """Exact Hamming-distance index of one algorithm (``"pdq"``, ``"phash"``, ...).

    ``add(id, hex)`` replaces any hash stored under the same id; ``remove(id)`` forgets
    it; ``query(hex, max_distance)`` returns ``[(id, distance), ...]``, nearest first,
    ties by id. Ids are integers. Not thread-safe: callers serialise access.
    """

    def __init__(self, algorithm: str, *, capacity: int = _INITIAL_CAPACITY) -> None:
        if algorithm not in HEX_LENGTHS:
            raise ValueError(f"unknown hash algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.words = max(1, HEX_LENGTHS[algorithm] // 16)
        capacity = max(1, capacity)
        self._columns = np.zeros((self.words, capacity), dtype=np.uint64)
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._rows: dict[int, int] = {}
        self._size = 0

    @classmethod
    def from_arrays(
        cls, algorithm: str, ids: npt.NDArray[np.int64], hashes: npt.NDArray[np.uint8]
    ) -> HashIndex:
        """An index of ``hashes`` (uint8, one row of ``bits/8`` bytes per id) under ``ids``.

        A row is ``bytes.fromhex(hex)`` of the hash; ids must be unique.
        """
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        hashes = np.ascontiguousarray(hashes, dtype=np.uint8)
        index = cls(algorithm, capacity=len(ids))
        if hashes.shape != (len(ids), index.words * 8):
            raise ValueError(f"hashes must have shape ({len(ids)}, {index.words * 8})")
        rows = {int(item_id): row for row, item_id in enumerate(ids)}
        if len(rows) != len(ids):
            raise ValueError("ids must be unique")
        index._columns[:, : len(ids)] = hashes.view(">u8").astype(np.uint64).T
        index._ids[: len(ids)] = ids
        index._rows = rows
        index._size = len(ids)
        return index

    def __len__(self) -> int:
        return self._size

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    def add(self, item_id: int, hex_value: str) -> None:
        """Store ``hex_value`` (strict wire form) under ``item_id``."""
        packed = self._pack(hex_value)
        row = self._rows.get(item_id)
        if row is None:
            row = self._size
            if row == self._ids.shape[0]:
                grow = max(_INITIAL_CAPACITY, row)
                self._columns = np.concatenate(
                    [self._columns, np.zeros((self.words, grow), dtype=np.uint64)], axis=1
                )
                self._ids = np.concatenate([self._ids, np.zeros(grow, dtype=np.int64)])
            self._rows[item_id] = row
            self._ids[row] = item_id
            self._size += 1
        self._columns[:, row] = packed

    def add_many(self, items: Iterable[tuple[int, str]]) -> None:
        for item_id, hex_value in items:
            self.add(item_id, hex_value)

    def remove(self, item_id: int) -> None:
        """Forget ``item_id``; raises ``KeyError`` if it is not stored."""
        row = self._rows.pop(item_id)
        last = self._size - 1
        if row != last:
            # Keep the table dense: move the last row into the hole.
            moved = int(self._ids[last])
            self._columns[:, row] = self._columns[:, last]
            self._ids[row] = moved
            self._rows[moved] = row
        self._size -= 1

    def query(self, hex_value: str, max_distance: int) -> list[tuple[int, int]]:
        """Every stored ``(id, distance)`` with ``distance <= max_distance``, nearest first."""
        needle = self._pack(hex_value)
        if max_distance < 0 or self._size == 0:
            return []
        size = self._size
        word = np.empty(size, dtype=np.uint64)
        partial = np.empty(size, dtype=np.uint8)
        np.bitwise_xor(self._columns[0, :size], needle[0], out=word)
        np.bitwise_count(word, out=partial)
        if self.words > 1:
            count = np.empty(size, dtype=np.uint8)
            np.bitwise_xor(self._columns[1, :size], needle[1], out=word)
            np.bitwise_count(word, out=count)
            np.add(partial, count, out=partial)
        rows = np.flatnonzero(partial <= max_distance)
        found = partial[rows].astype(np.uint16)
        if self.words > 2 and rows.size:
            rest = self._columns[2:, rows] ^ needle[2:, None]
            found += np.bitwise_count(rest).sum(axis=0, dtype=np.uint16)
            keep = found <= max_distance
            rows, found = rows[keep], found[keep]
        ids = self._ids[rows]
        order = np.lexsort((ids, found))
        return [(int(ids[i]), int(found[i])) for i in order]

    def query_many(
        self, hashes: npt.NDArray[np.uint8], max_distance: int
    ) -> list[list[tuple[int, int]]]:
        """``query`` for each row of ``hashes`` (uint8, ``bytes.fromhex`` rows)."""
        return [self.query(bytes(row).hex(), max_distance) for row in hashes]

    def _pack(self, hex_value: str) -> npt.NDArray[np.uint64]:
        validate_hex(self.algorithm, hex_value)
        return pack_hex(hex_value)
