"""An in-memory Hamming-distance index for matching many hashes at once.

A brute-force scan over hashes packed into ``uint64`` words: one vectorised XOR and popcount
per word over the whole table. It is exact (no candidate is ever missed, unlike approximate
indexes) and, at ~1 ns per stored 256-bit hash, scans a million PDQ hashes in a few
milliseconds, which is ample for batch matching against the portal's hash list.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np
import numpy.typing as npt

from hashing.distance import HEX_LENGTHS, validate_hex

_INITIAL_CAPACITY = 1024


def pack_hex(hex_value: str) -> npt.NDArray[np.uint64]:
    """Pack a hex hash into big-endian-ordered ``uint64`` words (16 hex digits per word)."""
    return np.frombuffer(bytes.fromhex(hex_value), dtype=">u8").astype(np.uint64)


class HashIndex:
    """Exact Hamming-distance index for one algorithm (``"pdq"``, ``"phash"``, ...).

    ``add(id, hex)`` replaces any hash stored under the same id; ``remove(id)`` forgets it;
    ``query(hex, max_distance)`` returns ``[(id, distance), ...]`` nearest first (ties in
    storage order: insertion order until a ``remove`` moves the last row into the hole).
    """

    def __init__(self, algorithm: str) -> None:
        if algorithm not in HEX_LENGTHS:
            raise ValueError(f"unknown hash algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.bits = HEX_LENGTHS[algorithm] * 4
        self._words = max(1, self.bits // 64)
        self._table = np.zeros((_INITIAL_CAPACITY, self._words), dtype=np.uint64)
        self._ids: list[Hashable] = []
        self._rows: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    def add(self, item_id: Hashable, hex_value: str) -> None:
        """Store ``hex_value`` (strict wire form) under ``item_id``."""
        packed = self._pack(hex_value)
        row = self._rows.get(item_id)
        if row is None:
            row = len(self._ids)
            if row == len(self._table):
                grown = np.zeros((2 * len(self._table), self._words), dtype=np.uint64)
                grown[:row] = self._table
                self._table = grown
            self._ids.append(item_id)
            self._rows[item_id] = row
        self._table[row] = packed

    def add_many(self, items: Iterable[tuple[Hashable, str]]) -> None:
        for item_id, hex_value in items:
            self.add(item_id, hex_value)

    def remove(self, item_id: Hashable) -> None:
        """Forget ``item_id``; raises ``KeyError`` if it is not stored."""
        row = self._rows.pop(item_id)
        last = len(self._ids) - 1
        if row != last:
            # Move the last row into the hole so the table stays dense.
            moved = self._ids[last]
            self._ids[row] = moved
            self._rows[moved] = row
            self._table[row] = self._table[last]
        self._ids.pop()

    def distances(self, hex_value: str) -> npt.NDArray[np.int64]:
        """Distance from ``hex_value`` to every stored hash, in row order."""
        needle = self._pack(hex_value)
        table = self._table[: len(self._ids)]
        distances: npt.NDArray[np.int64] = np.bitwise_count(table ^ needle).sum(
            axis=1, dtype=np.int64
        )
        return distances

    def query(self, hex_value: str, max_distance: int) -> list[tuple[Hashable, int]]:
        """Every stored ``(id, distance)`` with ``distance <= max_distance``, nearest first."""
        if max_distance < 0:
            return []
        found = self.distances(hex_value)
        rows = np.flatnonzero(found <= max_distance)
        order = rows[np.lexsort((rows, found[rows]))]
        return [(self._ids[row], int(found[row])) for row in order]

    def _pack(self, hex_value: str) -> npt.NDArray[np.uint64]:
        validate_hex(self.algorithm, hex_value)
        if self.bits < 64:
            # Not used by any algorithm today; keeps the class honest for short hashes.
            return np.array([int(hex_value, 16)], dtype=np.uint64)
        return pack_hex(hex_value)
