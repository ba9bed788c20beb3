"""``check``: hash files and look them up in the local store.

Perceptual hashes are matched by Hamming distance with the exact index
(``hashing.index.HashIndex``) within each algorithm's threshold (PDQ 31 bits, pHash and
dHash 10; the registry in ``hashing.algorithms``); MD5 and SHA-256 of the file bytes match
exactly.
"""

from __future__ import annotations

from typing import Any

from hashing import hash_image
from hashing.algorithms import ALGORITHMS, SHARED_EXACT, SHARED_PERCEPTUAL
from hashing.errors import HashingError
from hashing.index import HashIndex
from hashing.platform.store import Store

NEAR_THRESHOLDS: dict[str, int] = {name: ALGORITHMS[name].threshold for name in SHARED_PERCEPTUAL}
EXACT_ALGORITHMS = SHARED_EXACT


class Checker:
    """Indexes built once from the store, then any number of lookups."""

    def __init__(self, store: Store, *, thresholds: dict[str, int] | None = None) -> None:
        self.store = store
        self.thresholds = {**NEAR_THRESHOLDS, **(thresholds or {})}
        self.indexes: dict[str, HashIndex] = {}
        for algorithm in self.thresholds:
            index = HashIndex(algorithm)
            index.add_many(store.rows(algorithm))
            self.indexes[algorithm] = index

    def lookup(self, hashes: dict[str, Any]) -> list[dict[str, Any]]:
        """Matches for a record of hashes (as ``hash_image`` returns), nearest first."""
        matches: list[dict[str, Any]] = []
        for algorithm, index in self.indexes.items():
            value = hashes.get(algorithm)
            if not value:
                continue
            found = index.query(value, self.thresholds[algorithm])
            rows = self.store.by_ids([row_id for row_id, _ in found])
            matches.extend(_match(rows[row_id], distance) for row_id, distance in found)
        for algorithm in EXACT_ALGORITHMS:
            value = hashes.get(algorithm)
            if value:
                matches.extend(_match(row, 0) for row in self.store.exact(algorithm, value))
        matches.sort(key=lambda m: (m["distance"], m["algorithm"]))
        return matches

    def check_file(self, path: str) -> dict[str, Any]:
        """The JSON result for one file: match or not, with distances, or an error."""
        try:
            hashes = hash_image(path)
        except (HashingError, OSError) as exc:
            return {"path": path, "error": str(exc) or exc.__class__.__name__}
        matches = self.lookup(hashes)
        return {
            "path": path,
            "match": bool(matches),
            "distance": matches[0]["distance"] if matches else None,
            "matches": matches,
            "hashes": {k: hashes.get(k) for k in ("pdq", "pdq_quality", "phash", "md5")},
        }


def _match(row: dict[str, Any], distance: int) -> dict[str, Any]:
    return {
        "algorithm": row["algorithm"],
        "value": row["value"],
        "distance": distance,
        "case_id": row["case_id"],
        "media_kind": row["media_kind"],
    }
