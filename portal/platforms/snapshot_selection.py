"""What a snapshot holds at a feed position, whatever its format (NDJSON, CSV, binary).

Every hash active at the position and the platform's own active decoys, oldest first.
One definition, so the formats can't disagree on what a platform bootstraps from (a
withdrawn decoy served by one format only would be both stale and a decoy give-away).
"""

from __future__ import annotations

from django.db.models import QuerySet

from portal.cases.models import SubmittedHash
from portal.platforms.feed import FeedFilters
from portal.platforms.models import Decoy, Platform

# The hash columns every format carries, in this order.
SNAPSHOT_COLUMNS = (
    "feed_seq",
    "algorithm",
    "value",
    "media_kind",
    "quality",
    "case_id",
    "item_id",
    "frame",
    "frame_timestamp",
)


def snapshot_hashes(*, position: int, filters: FeedFilters) -> QuerySet:
    """The active hashes at `position` as SNAPSHOT_COLUMNS tuples, in position order."""
    return (
        filters.apply(SubmittedHash.objects.filter(feed_seq__lte=position))
        .filter(status=SubmittedHash.Status.ACTIVE)
        .order_by("feed_seq")
        .values_list(*SNAPSHOT_COLUMNS)
    )


def snapshot_decoys(*, platform: Platform, position: int, filters: FeedFilters) -> QuerySet:
    """The platform's decoys active at `position`, in position order."""
    return filters.apply(
        Decoy.objects.filter(feed_seq__lte=position, platform=platform, status=Decoy.Status.ACTIVE)
    ).order_by("feed_seq")
