"""Matching a platform's videos: exact digests, vPDQ against listed videos, photos in frames.

A listed video is one item: its MD5/SHA-256 rows and its vPDQ frames, PDQ rows with a
frame number (portal/cases/models.py). The live PDQ index (matching.py) already holds
every active frame row next to the photos' PDQs, so one index lookup per query frame
finds both the candidate videos (frame rows, grouped by item) and the listed photos
the video shows (non-frame rows). Each candidate is then compared as a whole with the
vPDQ rule over its stored active frames (``hashing.video.vpdq_match``: the shares of
query and compared frames within the PDQ threshold, against the two thresholds).
Rows are reloaded by status after the lookup, so a withdrawn or quarantined video stops
matching as soon as the index has caught up with the feed, as a hash does on /match.
The caller's own decoys (its video's digests, its photos' PDQs) match for it as listed
hashes do (decoy_view.py), so this endpoint can't tell them apart either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from hashing.algorithms import SHARED_EXACT
from hashing.distance import MATCH_THRESHOLDS, hamming_distance
from hashing.pdq import PDQ_QUALITY_FLOOR
from hashing.video import (
    VPDQ_COMPARED_MATCH_THRESHOLD,
    VPDQ_QUERY_MATCH_THRESHOLD,
    VpdqFrame,
    vpdq_match,
)
from portal.cases.models import SubmittedHash
from portal.cases.positions import feed_head
from portal.cases.services import MAX_FRAMES_PER_VIDEO
from portal.exceptions import ApplicationError
from portal.platforms.decoy_view import decoy_matches
from portal.platforms.matching import match_index_current, match_threshold
from portal.platforms.models import Platform
from portal.platforms.pseudonyms import decoy_disguise, pseudonymous_case_id, pseudonymous_item_id
from portal.platforms.selectors import feedback_counts, no_feedback
from portal.trust.review import flood_record

# Videos per request: each may carry up to MAX_FRAMES_PER_VIDEO frames (one a second for
# two hours), so a full batch is at most 72,000 index lookups.
MAX_VIDEO_MATCH_BATCH = 10
MAX_QUERY_FRAMES = MAX_FRAMES_PER_VIDEO
# Listed videos compared with the vPDQ rule per query video, most frames hit first; and
# listed photos reported per query video, nearest first.
MAX_VIDEO_CANDIDATES = 100
MAX_PHOTO_MATCHES = 100

DEFAULT_QUERY_MATCH_PERCENT = VPDQ_QUERY_MATCH_THRESHOLD * 100
DEFAULT_COMPARED_MATCH_PERCENT = VPDQ_COMPARED_MATCH_THRESHOLD * 100


@dataclass(frozen=True)
class VideoQuery:
    md5: str | None = None
    sha256: str | None = None
    frames: tuple[VpdqFrame, ...] = ()


@dataclass(frozen=True)
class VideoThresholds:
    pdq: int = MATCH_THRESHOLDS["pdq"]
    query_match_percent: float = DEFAULT_QUERY_MATCH_PERCENT
    compared_match_percent: float = DEFAULT_COMPARED_MATCH_PERCENT


@dataclass(frozen=True)
class ExactHit:
    algorithm: str
    value: str
    seq: int
    media_kind: str
    case_id: str
    item_id: str
    feedback: dict[str, int]


@dataclass(frozen=True)
class VideoHit:
    """A listed video compared with the query under the vPDQ rule."""

    case_id: str
    item_id: str
    match: bool
    query_match_percent: float
    compared_match_percent: float
    # Query frames within the PDQ threshold of a frame of this video, and the reverse.
    frames_matched: int
    compared_frames_matched: int
    compared_frames: int
    # The listed video's MD5 (name it in /feedback) and that hash's feedback counts.
    md5: str | None
    feedback: dict[str, int]


@dataclass(frozen=True)
class PhotoHit:
    """A listed photo seen in the query's frames: the nearest frame showing it."""

    value: str
    distance: int
    frame: int
    timestamp: float
    frames_matched: int
    seq: int
    case_id: str
    item_id: str
    feedback: dict[str, int]
    algorithm: str = "pdq"
    media_kind: str = "image"


@dataclass(frozen=True)
class VideoResult:
    query: VideoQuery
    frames: int  # query frames compared (quality floor applied, repeats removed)
    thresholds: VideoThresholds
    exact: list[ExactHit] = field(default_factory=list)
    videos: list[VideoHit] = field(default_factory=list)
    photos: list[PhotoHit] = field(default_factory=list)
    truncated: bool = False


def video_thresholds(
    *, pdq: int | None = None, query: float | None = None, compared: float | None = None
) -> VideoThresholds:
    """The caller's thresholds: PDQ distance only stricter, the two shares 0-100 (percent)."""
    for name, value in (("query_match_percent", query), ("compared_match_percent", compared)):
        if value is not None and not 0 <= value <= 100:
            raise ApplicationError(f"{name} must be between 0 and 100.", code="bad_threshold")
    return VideoThresholds(
        pdq=match_threshold(algorithm="pdq", requested=pdq),
        query_match_percent=DEFAULT_QUERY_MATCH_PERCENT if query is None else float(query),
        compared_match_percent=(
            DEFAULT_COMPARED_MATCH_PERCENT if compared is None else float(compared)
        ),
    )


def _compared_frames(frames: tuple[VpdqFrame, ...]) -> list[VpdqFrame]:
    """The frames vPDQ compares: above the quality floor, each hash once (first kept)."""
    seen: set[str] = set()
    kept = []
    for frame in frames:
        if frame.quality >= PDQ_QUALITY_FLOOR and frame.pdq not in seen:
            seen.add(frame.pdq)
            kept.append(frame)
    return kept


def videos_match(
    *,
    platform: Platform,
    queries: list[VideoQuery],
    thresholds: VideoThresholds | None = None,
) -> list[VideoResult]:
    """For each video: exact digest hits, listed videos under vPDQ, listed photos in frames."""
    if len(queries) > MAX_VIDEO_MATCH_BATCH:
        raise ApplicationError(
            f"Send at most {MAX_VIDEO_MATCH_BATCH} videos per request.", code="batch_too_large"
        )
    if any(len(q.frames) > MAX_QUERY_FRAMES for q in queries):
        raise ApplicationError(
            f"A video may have at most {MAX_QUERY_FRAMES} frame hashes.", code="too_many_frames"
        )
    limits = thresholds or VideoThresholds()
    head = feed_head()
    index = match_index_current(algorithm="pdq", head=head)
    compared = [_compared_frames(q.frames) for q in queries]
    # Per query: stored pk -> (nearest distance, query frame at it, query frames within).
    found: list[dict[int, tuple[int, VpdqFrame, int]]] = []
    for frames in compared:
        hits: dict[int, tuple[int, VpdqFrame, int]] = {}
        if frames:
            matrix = np.frombuffer(
                bytes.fromhex("".join(f.pdq for f in frames)), dtype=np.uint8
            ).reshape(len(frames), 32)
            for frame, near in zip(frames, index.query_many(matrix, limits.pdq), strict=True):
                for pk, distance in near:
                    best = hits.get(pk)
                    if best is None:
                        hits[pk] = (distance, frame, 1)
                    else:
                        nearer = distance < best[0]
                        hits[pk] = (
                            min(distance, best[0]),
                            frame if nearer else best[1],
                            best[2] + 1,
                        )
        found.append(hits)
    # Reload what the index found: a row may have been removed since it was refreshed.
    rows = {
        row["pk"]: row
        for row in SubmittedHash.objects.filter(
            pk__in={pk for hits in found for pk in hits}, status=SubmittedHash.Status.ACTIVE
        ).values("pk", "item_id", "case_id", "value", "feed_seq", "frame")
    }
    exact_rows = _exact_rows(queries)
    # Candidate videos per query: item -> query frames that hit it, most first.
    candidates: list[list[str]] = []
    truncated = [False] * len(queries)
    for n, hits in enumerate(found):
        per_item: dict[str, int] = defaultdict(int)
        for pk, (_, _, count) in hits.items():
            if pk in rows and rows[pk]["frame"] is not None:
                per_item[str(rows[pk]["item_id"])] += count
        ordered = sorted(per_item, key=lambda item: (-per_item[item], item))
        if len(ordered) > MAX_VIDEO_CANDIDATES:
            ordered, truncated[n] = ordered[:MAX_VIDEO_CANDIDATES], True
        candidates.append(ordered)
    stored_frames, items = _listed_videos({item for items in candidates for item in items})
    photo_pks = [pk for hits in found for pk in hits if pk in rows and rows[pk]["frame"] is None]
    counts = feedback_counts(
        hash_ids=[
            *photo_pks,
            *(row["pk"] for rows_ in exact_rows.values() for row in rows_),
            *(item["md5_pk"] for item in items.values() if item["md5_pk"] is not None),
        ]
    )
    uploads: dict[int, set[str]] = defaultdict(set)

    def upload_of(query: VideoQuery) -> str:
        return query.sha256 or query.md5 or query.frames[0].pdq

    results = []
    for n, query in enumerate(queries):
        exact = []
        for algorithm, value in (("md5", query.md5), ("sha256", query.sha256)):
            for row in exact_rows.get((algorithm, value or ""), []):
                item = str(row["item_id"])
                uploads[row["pk"]].add(upload_of(query))
                exact.append(
                    ExactHit(
                        algorithm=algorithm,
                        value=row["value"],
                        seq=row["feed_seq"],
                        media_kind=row["media_kind"],
                        case_id=pseudonymous_case_id(platform=platform, case_id=row["case_id"]),
                        item_id=pseudonymous_item_id(platform=platform, item_id=item),
                        feedback=counts.get(row["pk"]) or no_feedback(),
                    )
                )
        exact += _decoy_exact(platform=platform, query=query)
        videos = []
        for item_id in candidates[n]:
            listed = stored_frames[item_id]
            if not listed:
                continue
            verdict = vpdq_match(
                compared[n],
                listed,
                distance=limits.pdq,
                query_threshold=limits.query_match_percent / 100,
                compared_threshold=limits.compared_match_percent / 100,
            )
            info = items[item_id]
            if verdict.match and info["md5_pk"] is not None:
                uploads[info["md5_pk"]].add(upload_of(query))
            videos.append(
                VideoHit(
                    case_id=pseudonymous_case_id(platform=platform, case_id=info["case_id"]),
                    item_id=pseudonymous_item_id(platform=platform, item_id=item_id),
                    match=verdict.match,
                    query_match_percent=round(verdict.query_match_percent, 2),
                    compared_match_percent=round(verdict.compared_match_percent, 2),
                    frames_matched=round(verdict.query_match_percent * len(compared[n]) / 100),
                    compared_frames_matched=round(
                        verdict.compared_match_percent * len(_compared_frames(tuple(listed))) / 100
                    ),
                    compared_frames=len(listed),
                    md5=info["md5"],
                    feedback=counts.get(info["md5_pk"]) or no_feedback(),
                )
            )
        videos.sort(key=lambda hit: (not hit.match, -hit.query_match_percent, hit.item_id))
        photos = []
        for pk, (distance, frame, count) in found[n].items():
            photo = rows.get(pk)
            if photo is None or photo["frame"] is not None:
                continue
            uploads[pk].add(upload_of(query))
            photos.append(
                PhotoHit(
                    value=photo["value"],
                    distance=distance,
                    frame=frame.frame,
                    timestamp=frame.as_dict()["timestamp"],
                    frames_matched=count,
                    seq=photo["feed_seq"],
                    case_id=pseudonymous_case_id(platform=platform, case_id=photo["case_id"]),
                    item_id=pseudonymous_item_id(platform=platform, item_id=str(photo["item_id"])),
                    feedback=counts.get(pk) or no_feedback(),
                )
            )
        photos += _decoy_photos(platform=platform, frames=compared[n], threshold=limits.pdq)
        photos.sort(key=lambda hit: (hit.distance, hit.seq))
        if len(photos) > MAX_PHOTO_MATCHES:
            photos, truncated[n] = photos[:MAX_PHOTO_MATCHES], True
        results.append(
            VideoResult(
                query=query,
                frames=len(compared[n]),
                thresholds=limits,
                exact=exact,
                videos=videos,
                photos=photos,
                truncated=truncated[n],
            )
        )
    if uploads:
        # Flood detection counts distinct uploads per stored hash, as /match does.
        flood_record(platform=platform, hits=dict(uploads))
    return results


def _decoy_exact(*, platform: Platform, query: VideoQuery) -> list[ExactHit]:
    """The caller's own video decoys equal to a digest, as real hashes (decoy_view.py)."""
    hits = []
    for algorithm, value in (("md5", query.md5), ("sha256", query.sha256)):
        if not value:
            continue
        for hit in decoy_matches(
            platform=platform, algorithm=algorithm, forms=(value,), threshold=0
        ):
            disguise = decoy_disguise(platform=platform, decoy=hit.decoy)
            hits.append(
                ExactHit(
                    algorithm=algorithm,
                    value=hit.decoy.value,
                    seq=hit.decoy.feed_seq,
                    media_kind=hit.decoy.media_kind,
                    case_id=disguise.case_id,
                    item_id=disguise.item_id,
                    feedback=hit.feedback,
                )
            )
    return hits


def _decoy_photos(*, platform: Platform, frames: list[VpdqFrame], threshold: int) -> list[PhotoHit]:
    """The caller's own photo decoys seen in its frames, shaped as a listed photo's hit."""
    if not frames:
        return []
    hits = []
    forms = tuple(frame.pdq for frame in frames)
    for hit in decoy_matches(platform=platform, algorithm="pdq", forms=forms, threshold=threshold):
        near = [
            (distance, frame)
            for frame in frames
            if (distance := hamming_distance(frame.pdq, hit.decoy.value)) <= threshold
        ]
        distance, first = min(near, key=lambda pair: (pair[0], pair[1].frame))
        disguise = decoy_disguise(platform=platform, decoy=hit.decoy)
        hits.append(
            PhotoHit(
                value=hit.decoy.value,
                distance=distance,
                frame=first.frame,
                timestamp=first.as_dict()["timestamp"],
                frames_matched=len(near),
                seq=hit.decoy.feed_seq,
                case_id=disguise.case_id,
                item_id=disguise.item_id,
                feedback=hit.feedback,
            )
        )
    return hits


def _exact_rows(queries: list[VideoQuery]) -> dict[tuple[str, str], list[dict]]:
    wanted = {
        (algorithm, value)
        for q in queries
        for algorithm, value in (("md5", q.md5), ("sha256", q.sha256))
        if value
    }
    assert {a for a, _ in wanted} <= set(SHARED_EXACT)
    stored: dict[tuple[str, str], list[dict]] = defaultdict(list)
    if not wanted:
        return stored
    for row in SubmittedHash.objects.filter(
        algorithm__in={a for a, _ in wanted},
        value__in={v for _, v in wanted},
        status=SubmittedHash.Status.ACTIVE,
    ).values("pk", "algorithm", "value", "media_kind", "case_id", "item_id", "feed_seq"):
        if (row["algorithm"], row["value"]) in wanted:
            stored[(row["algorithm"], row["value"])].append(dict(row))
    return stored


def _listed_videos(item_ids: set[str]) -> tuple[dict[str, list[VpdqFrame]], dict[str, dict]]:
    """Each listed video's active frames (in frame order), and its case and MD5 row."""
    frames: dict[str, list[VpdqFrame]] = defaultdict(list)
    items: dict[str, dict] = {}
    if not item_ids:
        return frames, items
    for row in (
        SubmittedHash.objects.filter(item_id__in=item_ids, status=SubmittedHash.Status.ACTIVE)
        .order_by("frame")
        .values_list("pk", "item_id", "case_id", "algorithm", "value", "quality", "frame")
    ):
        pk, item, case_id, algorithm, value, quality, frame_number = row
        info = items.setdefault(str(item), {"case_id": case_id, "md5": None, "md5_pk": None})
        if frame_number is not None:
            frames[str(item)].append(VpdqFrame(frame_number, 0.0, value, quality or 0))
        elif algorithm == "md5":
            info["md5"], info["md5_pk"] = value, pk
    return frames, items
