"""``check``: hash files and look them up in the local store.

Perceptual hashes are matched by Hamming distance with the exact index
(``hashing.index.HashIndex``) within each algorithm's threshold (PDQ 31 bits, pHash and
dHash 10; the registry in ``hashing.algorithms``); MD5 and SHA-256 of the file bytes match
exactly.

What a platform would expect, and the bare lookup would miss:

- **Rotated and mirrored copies.** An image is looked up by its 8 PDQ dihedral variants
  (``hashing.pdq.pdq_dihedral``), as ``/match`` does with ``variants``: a re-upload turned
  by 90 degrees is a match, and says through which variant (``"variant": "rot90"``).
- **Videos** (``hashing.video``, through ``python -m hashing``'s ``hash_path``): the file's
  MD5/SHA-256 match a listed video exactly. Every kept vPDQ frame is looked up in the PDQ
  index, which holds the listed photos and the listed videos' frames (rows with a frame
  number): a listed video any frame hits is compared as a whole under the vPDQ rule
  (``hashing.video.vpdq_match``: shares of this video's and the listed video's frames
  within 31 bits, against 80% / 0% by default), so a re-encoded, resized or trimmed copy
  matches (``"algorithm": "vpdq"``, with both percentages); a listed photo a frame hits is
  a match too (a video showing a victim's photo), with the frame and its time.
- **Weak evidence is not a verdict.** When an upload's PDQ quality is under the floor
  (``PDQ_QUALITY_FLOOR``, 50: too little detail for PDQ to be trusted) and the only hits
  are pHash/dHash, the result is ``needs_review``, not a match: 64-bit hashes of a
  featureless picture collide too easily to block on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The command-line hasher's dispatch: image or video by the file's first bytes.
from hashing.__main__ import hash_path
from hashing.algorithms import ALGORITHMS, SHARED_EXACT, SHARED_PERCEPTUAL
from hashing.errors import HashingError
from hashing.index import HashIndex
from hashing.pdq import PDQ_QUALITY_FLOOR
from hashing.platform.store import Store
from hashing.video import (
    VPDQ_COMPARED_MATCH_THRESHOLD,
    VPDQ_QUERY_MATCH_THRESHOLD,
    VpdqFrame,
    vpdq_match,
)

NEAR_THRESHOLDS: dict[str, int] = {name: ALGORITHMS[name].threshold for name in SHARED_PERCEPTUAL}
EXACT_ALGORITHMS = SHARED_EXACT
# Perceptual hashes too short to block on by themselves when PDQ has too little to go on.
WEAK_ALGORITHMS = frozenset(a for a in SHARED_PERCEPTUAL if ALGORITHMS[a].bits < 256)

VERDICT_MATCH = "match"
VERDICT_NEEDS_REVIEW = "needs_review"
VERDICT_NO_MATCH = "no_match"


class Checker:
    """Indexes built once from the store, then any number of lookups."""

    def __init__(
        self,
        store: Store,
        *,
        thresholds: dict[str, int] | None = None,
        vpdq_query_percent: float = VPDQ_QUERY_MATCH_THRESHOLD * 100,
        vpdq_compared_percent: float = VPDQ_COMPARED_MATCH_THRESHOLD * 100,
    ) -> None:
        self.store = store
        self.thresholds = {**NEAR_THRESHOLDS, **(thresholds or {})}
        self.vpdq_query_percent = vpdq_query_percent
        self.vpdq_compared_percent = vpdq_compared_percent
        self.indexes: dict[str, HashIndex] = {}
        for algorithm in self.thresholds:
            # Built from arrays in one step: millions of rows in seconds (issue 16).
            self.indexes[algorithm] = HashIndex.from_arrays(algorithm, *store.arrays(algorithm))

    def lookup(self, hashes: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Matches for a record of hashes (as ``python -m hashing --dihedral`` prints it).

        ``pdq_dihedral`` (name -> hex) adds the image's rotations and mirrors; ``vpdq``
        (the frames of a video) adds frame lookups among the PDQ hashes. Nearest first;
        each stored hash once, at its smallest distance.
        """
        best: dict[int, dict[str, Any]] = {}
        for algorithm, index in self.indexes.items():
            queries = _queries(algorithm, hashes)
            for variant, query in queries.items():
                found = index.query(query, self.thresholds[algorithm])
                rows = self.store.by_ids([row_id for row_id, _ in found])
                for row_id, distance in found:
                    if row_id not in best or distance < best[row_id]["distance"]:
                        best[row_id] = _match(rows[row_id], distance)
                        if variant != "orig":
                            best[row_id]["variant"] = variant
        # An image hit on a listed video's frame says which frame of which video.
        for row_id, spot in self.store.frame_rows(list(best)).items():
            best[row_id].update(spot)
        matches = list(best.values())
        matches.extend(self._frame_matches(hashes.get("vpdq") or []))
        for algorithm in EXACT_ALGORITHMS:
            value = hashes.get(algorithm)
            if value:
                matches.extend(_match(row, 0) for row in self.store.exact(algorithm, value))
        matches.sort(key=lambda m: (m["distance"], m["algorithm"]))
        return matches

    def _frame_matches(self, raw_frames: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Listed photos seen in a video's frames, and listed videos matching it under vPDQ."""
        index = self.indexes.get("pdq")
        if index is None or not raw_frames:
            return []
        frames = [VpdqFrame.from_dict(frame) for frame in raw_frames]
        hits: dict[int, list[tuple[int, VpdqFrame]]] = {}
        for frame in frames:
            if frame.quality < PDQ_QUALITY_FLOOR:
                continue  # as vPDQ matching does: too little detail to compare
            for row_id, distance in index.query(frame.pdq, self.thresholds["pdq"]):
                hits.setdefault(row_id, []).append((distance, frame))
        spots = self.store.frame_rows(list(hits))
        rows = self.store.by_ids([row_id for row_id in hits if row_id not in spots])
        matches = []
        for row_id, seen in hits.items():
            if row_id in spots:
                continue
            distance, first = min(seen, key=lambda hit: (hit[0], hit[1].frame))
            listed = VpdqFrame(frame=0, timestamp=0.0, pdq=rows[row_id]["value"], quality=100)
            share = vpdq_match(frames, [listed], distance=self.thresholds["pdq"])
            matches.append(
                {
                    **_match(rows[row_id], distance),
                    "frame": first.frame,
                    "timestamp": first.as_dict()["timestamp"],  # vPDQ's wire rounding
                    "frames_matched": len(seen),
                    "video_match_percent": round(share.query_match_percent, 1),
                }
            )
        # Listed videos: every one a frame hit, compared as a whole (rows grouped by item).
        nearest: dict[tuple[str, str], int] = {}
        for row_id, spot in spots.items():
            key = (spot["case_id"], spot["item_id"])
            distance = min(d for d, _ in hits[row_id])
            nearest[key] = min(distance, nearest.get(key, distance))
        for key, video in self.store.video_items(list(nearest)).items():
            matches.extend(self._video_match(frames, key, video, nearest[key]))
        return matches

    def _video_match(
        self,
        frames: list[VpdqFrame],
        key: tuple[str, str],
        video: dict[str, Any],
        distance: int,
    ) -> list[dict[str, Any]]:
        listed = [VpdqFrame(*row) for row in video["frames"]]
        result = vpdq_match(
            frames,
            listed,
            distance=self.thresholds["pdq"],
            query_threshold=self.vpdq_query_percent / 100,
            compared_threshold=self.vpdq_compared_percent / 100,
        )
        if not result.match:
            return []
        compared = [f for f in frames if f.quality >= PDQ_QUALITY_FLOOR]
        return [
            {
                "algorithm": "vpdq",
                # The listed video's MD5: what feedback names for it.
                "md5": video["md5"],
                "distance": distance,  # its frame nearest to one of this video's
                "case_id": key[0],
                "item_id": key[1],
                "media_kind": "video",
                "query_match_percent": round(result.query_match_percent, 1),
                "compared_match_percent": round(result.compared_match_percent, 1),
                "frames": len({f.pdq for f in compared}),
                "compared_frames": len(listed),
            }
        ]

    def assess(self, hashes: Mapping[str, Any]) -> dict[str, Any]:
        """``verdict``, ``match``, ``needs_review``, ``distance`` and ``matches`` for a record."""
        matches = self.lookup(hashes)
        quality = hashes.get("pdq_quality")
        weak_only = bool(matches) and all(m["algorithm"] in WEAK_ALGORITHMS for m in matches)
        # Known to be low: a lookup sent without the quality keeps the plain verdict.
        low_quality = quality is not None and int(quality) < PDQ_QUALITY_FLOOR
        if not matches:
            verdict = VERDICT_NO_MATCH
        elif weak_only and low_quality:
            verdict = VERDICT_NEEDS_REVIEW
        else:
            verdict = VERDICT_MATCH
        return {
            "verdict": verdict,
            "match": verdict == VERDICT_MATCH,
            "needs_review": verdict == VERDICT_NEEDS_REVIEW,
            "distance": matches[0]["distance"] if matches else None,
            "matches": matches,
        }

    def check_file(self, path: str, *, dihedral: bool = True) -> dict[str, Any]:
        """The JSON result for one file (image or video): its verdict, or an error.

        ``dihedral=False`` looks an image up as it is only (no rotations or mirrors).
        """
        try:
            record = hash_path(path, dihedral=dihedral)
        except (HashingError, OSError) as exc:
            return {"path": path, "error": str(exc) or exc.__class__.__name__}
        media = record.get("media", "image")
        if media == "video":
            hashes: dict[str, Any] = {
                "md5": record["md5"],
                "sha256": record["sha256"],
                "frames": len(record["vpdq"]),
            }
        else:
            hashes = {k: record.get(k) for k in ("pdq", "pdq_quality", "phash", "md5")}
        return {"path": path, "media": media, **self.assess(record), "hashes": hashes}


def _queries(algorithm: str, hashes: Mapping[str, Any]) -> dict[str, str]:
    """The values to look up for one algorithm: the hash, and PDQ's dihedral variants."""
    queries: dict[str, str] = {}
    value = hashes.get(algorithm)
    if value:
        queries["orig"] = str(value)
    if algorithm == "pdq":
        for name, variant in (hashes.get("pdq_dihedral") or {}).items():
            queries.setdefault(str(name), str(variant))
    return queries


def _match(row: dict[str, Any], distance: int) -> dict[str, Any]:
    return {
        "algorithm": row["algorithm"],
        "value": row["value"],
        "distance": distance,
        "case_id": row["case_id"],
        "media_kind": row["media_kind"],
    }
