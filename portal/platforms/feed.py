"""The one way a platform is served the hash feed: read the head, page, record what was sent.

Positions come from `portal.cases.positions`: every change to a hash takes the
next position from a counter row locked until commit, so positions become
visible strictly in order. That gives the one rule every reader follows:

    Read the head position H *first*, then read rows with position <= H.
    Every position <= H is already committed (or was rolled back and never
    used), so nothing below H can appear later, and a cursor may move to H
    once every row up to H has been served.

A removal (withdrawn, expired, quarantined) moves the hash to a new position
with its new status, so it is served again, as a removal: platforms learn what
to delete. Each platform's feed also carries its own decoys (leak tracing),
which take positions from the same counter.

Every reader (the native feed, the snapshot, the StopNCII exchange, webhooks)
reads the head with `feed_head`, and records what it sent with
`feed_served_record`. A feed entry has one wire form, `entry_wire`, used by the
API (its serializer documents and renders that dict) and by webhook bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from portal.cases.models import SubmittedHash
from portal.cases.positions import feed_head
from portal.platforms.decoy_view import decoy_feedback_counts
from portal.platforms.models import Decoy, Platform
from portal.platforms.pseudonyms import decoy_disguise, pseudonymous_case_id, pseudonymous_item_id
from portal.platforms.selectors import feedback_counts, no_feedback
from portal.trust.audit import platform_audit

__all__ = ["feed_head"]  # re-exported: readers of the feed start here

MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 1_000

OP_ADD = "add"
OP_REMOVE = "remove"


@dataclass(frozen=True)
class FeedFilters:
    algorithm: str | None = None
    media_kind: str | None = None

    def apply(self, queryset: QuerySet) -> QuerySet:
        """Narrow hashes or decoys (both have `algorithm` and `media_kind`)."""
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
    # A video's vPDQ frame (a PDQ row of a video item): its frame number and timestamp (s).
    frame: int | None = None
    timestamp: float | None = None


@dataclass(frozen=True)
class FeedPage:
    entries: list[FeedEntry]
    # The position to continue after (what the next cursor encodes).
    position: int
    has_more: bool
    head: int


def wire_time(moment: datetime) -> str:
    """A time as the API writes it: ISO 8601 in UTC with a `Z` (as DRF renders it)."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def entry_wire(entry: FeedEntry) -> dict[str, Any]:
    """The wire form of one feed entry: the feed API and webhook bodies send exactly this."""
    return {
        "seq": entry.seq,
        "op": entry.op,
        "algorithm": entry.algorithm,
        "value": entry.value,
        "media_kind": entry.media_kind,
        "quality": entry.quality,
        "status": entry.status,
        "case_id": entry.case_id,
        "item_id": entry.item_id,
        "changed_at": wire_time(entry.changed_at),
        "feedback": dict(entry.feedback),
        "frame": entry.frame,
        "timestamp": entry.timestamp,
    }


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
        feedback=feedback if feedback is not None else no_feedback(),
        frame=row.frame,
        timestamp=row.frame_timestamp,
    )


def _decoy_entry(*, platform: Platform, decoy: Decoy, feedback: dict[str, int]) -> FeedEntry:
    disguise = decoy_disguise(platform=platform, decoy=decoy)
    return FeedEntry(
        seq=decoy.feed_seq,
        op=OP_ADD,
        algorithm=decoy.algorithm,
        value=decoy.value,
        media_kind=decoy.media_kind,
        quality=decoy.quality,
        status=SubmittedHash.Status.ACTIVE,
        case_id=disguise.case_id,
        item_id=disguise.item_id,
        changed_at=decoy.created_at,
        feedback=feedback,
    )


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
        filters.apply(SubmittedHash.objects.filter(window)).order_by("feed_seq")[: limit + 1]
    )
    decoys = list(
        filters.apply(Decoy.objects.filter(window, platform=platform)).order_by("feed_seq")[
            : limit + 1
        ]
    )
    merged: list[SubmittedHash | Decoy] = sorted([*rows, *decoys], key=lambda r: r.feed_seq)
    has_more = len(merged) > limit
    merged = merged[:limit]
    counts = feedback_counts(hash_ids=[r.pk for r in merged if isinstance(r, SubmittedHash)])
    # Decoys carry feedback as real hashes do (decoy_view.py: nobody can strip them).
    decoy_counts = decoy_feedback_counts(
        platform=platform, decoys=[r for r in merged if isinstance(r, Decoy)]
    )
    entries = [
        _hash_entry(platform=platform, row=r, feedback=counts.get(r.pk))
        if isinstance(r, SubmittedHash)
        else _decoy_entry(platform=platform, decoy=r, feedback=decoy_counts[r.pk])
        for r in merged
    ]
    # A full page continues after its last entry; a short one has served
    # everything up to the head, filtered-out positions included.
    position = entries[-1].seq if has_more else head
    return FeedPage(entries=entries, position=position, has_more=has_more, head=head)


def feed_served_record(
    *, platform_id: int, position: int, contiguous_from: int | None = None
) -> None:
    """Remember that the platform has been sent everything up to `position` (never goes back).

    `contiguous_from`: the first position of what was sent, for senders whose
    pieces may arrive out of order (webhook deliveries). The record moves only
    if the platform already had everything before it, so a gap is never
    counted as received.
    """
    platforms = Platform.objects.filter(pk=platform_id)
    if contiguous_from is not None:
        platforms = platforms.filter(fetched_seq__gte=contiguous_from - 1)
    platforms.update(fetched_seq=Greatest(F("fetched_seq"), position), fetched_at=timezone.now())


def feed_serve(
    *,
    platform: Platform,
    after: int,
    limit: int = DEFAULT_PAGE_SIZE,
    filters: FeedFilters = FeedFilters(),
    head: int | None = None,
) -> FeedPage:
    """A feed page for `platform`, recorded as sent (the native feed endpoint)."""
    page = feed_page_get(platform=platform, after=after, limit=limit, filters=filters, head=head)
    feed_served_record(platform_id=platform.pk, position=page.position)
    if page.entries:  # every download of hashes is in the audit log (idle polls aren't)
        platform_audit(
            platform=platform,
            action="feed_download",
            detail={"after": after, "to": page.position, "entries": len(page.entries)},
        )
    return page
