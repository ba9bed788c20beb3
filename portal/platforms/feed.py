"""What a platform reads from the hash feed: pages of changes and the full snapshot.

Positions come from `portal.cases.feed`: every change to a hash takes the next
position from a counter row locked until commit, so positions become visible
strictly in order. That gives the one rule every reader here follows:

    Read the head position H (the counter) *first*, then read rows with
    position <= H. Every position <= H is already committed (or was rolled
    back and never used), so nothing below H can appear later, and a cursor
    may move to H once every row up to H has been served.

A removal (withdrawn, expired, quarantined) moves the hash to a new position
with its new status, so it is served again, as a removal: platforms learn what
to delete. Each platform's feed also carries its own decoys (leak tracing),
which take positions from the same counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from portal.cases.feed import feed_position_current
from portal.cases.models import SubmittedHash
from portal.platforms.models import Decoy, HashFeedback, Platform
from portal.platforms.services import pseudonymous_case_id, pseudonymous_item_id

MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 1_000
SNAPSHOT_CHUNK_SIZE = 2_000

_SNAPSHOT_COLUMNS = (
    "feed_seq",
    "algorithm",
    "value",
    "media_kind",
    "quality",
    "case_id",
    "item_id",
)

OP_ADD = "add"
OP_REMOVE = "remove"


@dataclass(frozen=True)
class FeedFilters:
    algorithm: str | None = None
    media_kind: str | None = None

    def hashes(self, queryset: QuerySet) -> QuerySet:
        if self.algorithm:
            queryset = queryset.filter(algorithm=self.algorithm)
        if self.media_kind:
            queryset = queryset.filter(media_kind=self.media_kind)
        return queryset


@dataclass(frozen=True)
class FeedEntry:
    """One change in the feed, as a platform sees it (no case numbers, only pseudonyms)."""

    seq: int
    op: str
    algorithm: str
    value: str
    media_kind: str
    quality: int | None
    status: str
    case_id: str
    item_id: str
    changed_at: datetime
    # Corroboration: how many platforms reported each outcome (counts only).
    feedback: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedPage:
    entries: list[FeedEntry]
    # The position to continue after (what the next cursor encodes).
    position: int
    has_more: bool
    head: int


def _no_feedback() -> dict[str, int]:
    return {outcome: 0 for outcome in HashFeedback.Outcome.values}


def feed_head() -> int:
    """The newest committed feed position."""
    return feed_position_current()


def _hash_entry(
    *, platform: Platform, row: SubmittedHash, feedback: dict[str, int] | None
) -> FeedEntry:
    return FeedEntry(
        seq=row.feed_seq,
        op=OP_ADD if row.status == SubmittedHash.Status.ACTIVE else OP_REMOVE,
        algorithm=row.algorithm,
        value=row.value,
        media_kind=row.media_kind,
        quality=row.quality,
        status=row.status,
        case_id=pseudonymous_case_id(platform=platform, case_id=row.case_id),
        item_id=pseudonymous_item_id(platform=platform, item_id=str(row.item_id)),
        changed_at=row.updated_at,
        feedback=feedback if feedback is not None else _no_feedback(),
    )


def _decoy_entry(*, platform: Platform, decoy: Decoy) -> FeedEntry:
    # Shaped exactly like a real entry, pseudonyms included, so a leaker can't
    # tell decoys apart and strip them.
    return FeedEntry(
        seq=decoy.feed_seq,
        op=OP_ADD,
        algorithm=decoy.algorithm,
        value=decoy.value,
        media_kind=decoy.media_kind,
        quality=decoy.quality,
        status=SubmittedHash.Status.ACTIVE,
        case_id=pseudonymous_case_id(platform=platform, case_id=-decoy.pk),
        item_id=pseudonymous_item_id(platform=platform, item_id=f"decoy:{decoy.pk}"),
        changed_at=decoy.created_at,
        feedback=_no_feedback(),
    )


def _decoys(*, platform: Platform, filters: FeedFilters) -> QuerySet[Decoy]:
    decoys = Decoy.objects.filter(platform=platform)
    if filters.algorithm:
        decoys = decoys.filter(algorithm=filters.algorithm)
    if filters.media_kind:
        decoys = decoys.filter(media_kind=filters.media_kind)
    return decoys


def feedback_aggregates(*, hash_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per hash: how many platforms reported each outcome (never which platforms)."""
    found: dict[int, dict[str, int]] = {}
    rows = (
        HashFeedback.objects.filter(submitted_hash_id__in=hash_ids)
        .values("submitted_hash_id", "outcome")
        .annotate(n=Count("id"))
    )
    for row in rows:
        found.setdefault(row["submitted_hash_id"], _no_feedback())[row["outcome"]] = row["n"]
    return found


def feed_page_get(
    *,
    platform: Platform,
    after: int,
    limit: int = DEFAULT_PAGE_SIZE,
    filters: FeedFilters = FeedFilters(),
    head: int | None = None,
) -> FeedPage:
    """The changes after position `after`, oldest first, at most `limit` of them."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be 1-{MAX_PAGE_SIZE}")
    # The head first: see the module docstring.
    head = feed_head() if head is None else head
    if after >= head:
        return FeedPage(entries=[], position=after, has_more=False, head=head)
    window = Q(feed_seq__gt=after, feed_seq__lte=head)
    rows = list(
        filters.hashes(SubmittedHash.objects.filter(window)).order_by("feed_seq")[: limit + 1]
    )
    decoys = list(_decoys(platform=platform, filters=filters).filter(window)[: limit + 1])
    merged: list[SubmittedHash | Decoy] = sorted([*rows, *decoys], key=lambda r: r.feed_seq)
    has_more = len(merged) > limit
    merged = merged[:limit]
    aggregates = feedback_aggregates(
        hash_ids=[r.pk for r in merged if isinstance(r, SubmittedHash)]
    )
    entries = [
        _hash_entry(platform=platform, row=r, feedback=aggregates.get(r.pk))
        if isinstance(r, SubmittedHash)
        else _decoy_entry(platform=platform, decoy=r)
        for r in merged
    ]
    # A full page continues after its last entry; a short one has served
    # everything up to the head, filtered-out positions included.
    position = entries[-1].seq if has_more else head
    return FeedPage(entries=entries, position=position, has_more=has_more, head=head)


def platform_fetched_record(*, platform: Platform, position: int) -> None:
    """Remember that `platform` has been sent everything up to `position` (never goes back)."""
    Platform.objects.filter(pk=platform.pk).update(
        fetched_seq=Greatest(F("fetched_seq"), position), fetched_at=timezone.now()
    )


@dataclass(frozen=True)
class SnapshotRow:
    seq: int
    algorithm: str
    value: str
    media_kind: str
    quality: int | None
    case_id: str
    item_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "algorithm": self.algorithm,
            "value": self.value,
            "media_kind": self.media_kind,
            "quality": self.quality,
            "case_id": self.case_id,
            "item_id": self.item_id,
        }


def snapshot_rows(
    *,
    platform: Platform,
    position: int,
    filters: FeedFilters = FeedFilters(),
    chunk_size: int = SNAPSHOT_CHUNK_SIZE,
) -> Iterator[SnapshotRow]:
    """Every hash active at feed `position` (plus the platform's decoys), oldest first.

    `position` must be a head read before this call (`feed_head()`). Rows are
    bounded by it, which makes the snapshot consistent with a cursor at
    `position` whatever the isolation level: a hash that changes afterwards
    takes a larger position and reaches the platform through the feed (a
    removal of a hash the snapshot already left out is a no-op).

    On PostgreSQL the rows stream through a server-side cursor
    (`.iterator(chunk_size=...)`) inside one REPEATABLE READ transaction, so
    memory stays flat and the decoys and hashes come from one database
    snapshot. SQLite has no server-side cursors and one long SELECT would hold
    its lock against writers for the whole download, so it reads keyset pages.
    """
    window = Q(feed_seq__lte=position)
    hashes = (
        filters.hashes(SubmittedHash.objects.filter(window))
        .filter(status=SubmittedHash.Status.ACTIVE)
        .order_by("feed_seq")
        .values_list(
            "feed_seq", "algorithm", "value", "media_kind", "quality", "case_id", "item_id"
        )
    )
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Must be the transaction's first statement.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield from _snapshot_merge(
                platform=platform,
                decoys=list(_decoys(platform=platform, filters=filters).filter(window)),
                hashes=hashes.iterator(chunk_size=chunk_size),
            )
        return
    if connection.vendor == "postgresql":
        stream: Iterator[tuple] = hashes.iterator(chunk_size=chunk_size)
    else:
        stream = _keyset_pages(hashes, chunk_size=chunk_size)
    yield from _snapshot_merge(
        platform=platform,
        decoys=list(_decoys(platform=platform, filters=filters).filter(window)),
        hashes=stream,
    )


def _keyset_pages(hashes: QuerySet, *, chunk_size: int) -> Iterator[tuple]:
    last = 0
    while True:
        page = list(hashes.filter(feed_seq__gt=last)[:chunk_size])
        yield from page
        if len(page) < chunk_size:
            return
        last = page[-1][0]


def _snapshot_merge(
    *, platform: Platform, decoys: list[Decoy], hashes: Iterator[tuple]
) -> Iterator[SnapshotRow]:
    """Interleave the platform's decoys with the hashes in position order."""
    pending = iter(decoys)
    decoy = next(pending, None)
    # A case's hashes sit at neighbouring positions: remember only the last
    # pseudonyms (an HMAC each), which keeps memory flat.
    last_case: tuple[int, str] = (0, "")
    last_item: tuple[object, str] = (None, "")
    for seq, algorithm, value, media_kind, quality, case_id, item_id in hashes:
        while decoy is not None and decoy.feed_seq < seq:
            yield _decoy_row(platform=platform, decoy=decoy)
            decoy = next(pending, None)
        if last_case[0] != case_id:
            last_case = (case_id, pseudonymous_case_id(platform=platform, case_id=case_id))
        if last_item[0] != item_id:
            last_item = (
                item_id,
                pseudonymous_item_id(platform=platform, item_id=str(item_id)),
            )
        yield SnapshotRow(
            seq=seq,
            algorithm=algorithm,
            value=value,
            media_kind=media_kind,
            quality=quality,
            case_id=last_case[1],
            item_id=last_item[1],
        )
    while decoy is not None:
        yield _decoy_row(platform=platform, decoy=decoy)
        decoy = next(pending, None)


def _decoy_row(*, platform: Platform, decoy: Decoy) -> SnapshotRow:
    entry = _decoy_entry(platform=platform, decoy=decoy)
    return SnapshotRow(
        seq=entry.seq,
        algorithm=entry.algorithm,
        value=entry.value,
        media_kind=entry.media_kind,
        quality=entry.quality,
        case_id=entry.case_id,
        item_id=entry.item_id,
    )
