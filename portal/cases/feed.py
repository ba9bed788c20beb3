"""Feed positions: a strictly ordered, gap-tolerant sequence for the platform feed.

Platforms follow the feed with a cursor ("everything after position N"). With
plain auto-increment ids that misses rows: transaction A takes id 5, B takes
id 6 and commits first, a reader sees 6 and moves its cursor past 5 before A
commits. Here every position is taken from one counter row locked with
SELECT ... FOR UPDATE, and the lock is held until the writing transaction
commits, so positions become visible strictly in order: when a reader sees
position N, every position below N is already committed (or rolled back and
never used). On SQLite the IMMEDIATE transaction mode gives the same
serialisation.

Call `feed_positions_allocate` as late as possible in a transaction: writers of
the feed queue behind the lock until the holder commits.
"""

from django.db import transaction

from portal.cases.models import FeedCounter

_COUNTER_ID = 1


def feed_positions_allocate(*, count: int) -> range:
    """Reserve `count` consecutive feed positions inside the current transaction."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("feed positions must be allocated inside transaction.atomic")
    # The row is created by migration cases.0002, so there is no race to create it.
    counter = FeedCounter.objects.select_for_update().get(pk=_COUNTER_ID)
    first = counter.last_seq + 1
    counter.last_seq += count
    counter.save(update_fields=["last_seq"])
    return range(first, first + count)


def feed_position_current() -> int:
    """The last feed position handed out (0 when the feed is empty)."""
    counter = FeedCounter.objects.filter(pk=_COUNTER_ID).first()
    return counter.last_seq if counter else 0
