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

Whoever needs to hear of new positions (the webhook dispatcher in
portal/platforms) registers a listener at start-up with
`feed_listener_register`; listeners run once the allocating transaction has
committed, so this app knows nothing of who listens.
"""

import logging
from collections.abc import Callable

from django.db import transaction

from portal.cases.models import FeedCounter

_COUNTER_ID = 1
_listeners: list[Callable[[], None]] = []
logger = logging.getLogger(__name__)


def feed_listener_register(listener: Callable[[], None]) -> None:
    """Call `listener()` after every commit that allocated feed positions (idempotent)."""
    if listener not in _listeners:
        _listeners.append(listener)


def _listeners_notify() -> None:
    for listener in list(_listeners):
        # A listener's failure must never fail the write that committed already.
        try:
            listener()
        except Exception:
            logger.exception("feed listener %s failed", getattr(listener, "__name__", listener))


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
    transaction.on_commit(_listeners_notify)
    return range(first, first + count)


def feed_head() -> int:
    """The newest feed position handed out (0 when the feed is empty).

    Read it before reading rows: every position up to it is committed or was
    rolled back and never used, so rows at or below it can be served in order.
    """
    counter = FeedCounter.objects.filter(pk=_COUNTER_ID).first()
    return counter.last_seq if counter else 0
