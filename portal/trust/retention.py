"""Retention of removed hashes: a withdrawn, expired or removed hash's value is not kept.

A removed row stays in the feed so that every platform following it is told to delete
the hash. Once that has happened, keeping the value only keeps something sensitive.
`removed_hashes_purge` (daily: Celery beat, or the in-process schedule) deletes a
removed row when both hold:

- it was removed more than `TAKEBACK_REMOVED_HASH_RETENTION_DAYS` ago (default 90),
  which is also the oldest cursor a client may resume from: one restored from an older
  backup must bootstrap from a snapshot instead;
- every platform that takes part in the feed (active, and has fetched at all) has been
  sent the removal: its `fetched_seq` (raised by feed pages, snapshots, StopNCII pages
  and *delivered* webhooks alike) is at or past the row's position. A platform that has
  never fetched holds nothing and is owed no removal; a deactivated one no longer
  counts, and must bootstrap again from a snapshot if it is ever reactivated.

Deleting the row (rather than blanking its value) keeps the feed's wire form whole: a
client reading past the position later sees a gap, as it does for a rolled-back
position, never a removal without a value; snapshots leave removed rows out anyway, and
a platform bootstrapping later never needed the removal of a hash it never had. Rows
in an open review are kept (an operator may restore them); a decided review of a
purged row goes with it (the decision stays in the audit log). Withdrawn decoys leave
the feed by the same rule (their position becomes negative, below every reader's
window) but keep their row, so a leaked copy still traces. Delivered or abandoned
webhook bodies, which repeat hash values, are emptied after the same period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from portal.cases.models import SubmittedHash
from portal.platforms.models import Decoy, Platform, WebhookDelivery
from portal.trust.audit import SYSTEM, audit_record
from portal.trust.models import ReviewItem


@dataclass(frozen=True)
class PurgeResult:
    hashes: int
    decoys: int
    deliveries: int


def removal_horizon() -> int | None:
    """The feed position every taking-part platform has been sent (None: no platform yet)."""
    found = Platform.objects.filter(is_active=True, fetched_seq__gt=0).aggregate(
        lowest=Min("fetched_seq")
    )
    return found["lowest"]


@transaction.atomic
def removed_hashes_purge() -> PurgeResult:
    """Delete removed hash rows past retention whose removal reached every platform."""
    cutoff = timezone.now() - timedelta(days=settings.TAKEBACK_REMOVED_HASH_RETENTION_DAYS)
    horizon = removal_horizon()
    rows = SubmittedHash.objects.exclude(status=SubmittedHash.Status.ACTIVE).filter(
        removed_at__lt=cutoff
    )
    decoys = Decoy.objects.exclude(status=Decoy.Status.ACTIVE).filter(
        removed_at__lt=cutoff, feed_seq__gt=0
    )
    if horizon is not None:
        rows, decoys = rows.filter(feed_seq__lte=horizon), decoys.filter(feed_seq__lte=horizon)
    rows = rows.exclude(reviews__state=ReviewItem.State.OPEN)
    ids = list(rows.values_list("pk", flat=True))
    ReviewItem.objects.filter(submitted_hash_id__in=ids).delete()
    # Feedback on them goes too (CASCADE): counts of a hash nobody holds.
    hashes = SubmittedHash.objects.filter(pk__in=ids).delete()[1].get("cases.SubmittedHash", 0)
    # Out of every reader's window (positions start at 1), the row kept for tracing.
    decoys_left = decoys.update(feed_seq=-F("pk"))
    deliveries = (
        WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.PENDING)
        .filter(created_at__lt=cutoff)
        .exclude(payload={})
        .update(payload={})
    )
    result = PurgeResult(hashes=hashes, decoys=decoys_left, deliveries=deliveries)
    if hashes or decoys_left or deliveries:
        audit_record(
            actor_kind=SYSTEM,
            actor="takeback",
            action="removed_hashes_purge",
            detail={
                "hashes": hashes,
                "decoys": decoys_left,
                "deliveries": deliveries,
                "retention_days": settings.TAKEBACK_REMOVED_HASH_RETENTION_DAYS,
                "horizon": horizon,
            },
        )
    return result
