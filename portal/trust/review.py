"""The review queue: hashes out of the feed until an operator decides (issue 9).

A hash enters the queue when two or more independent platforms report "reviewed, not
violating" (`TAKEBACK_QUARANTINE_NOT_VIOLATING`, default 2; only reports made since
the hash was last restored count), when it matches an unusual number of distinct
uploads (`TAKEBACK_QUARANTINE_FLOOD_UPLOADS` a day, see `flood_record`), when a new
file is near the benign list (held: never shared at all), or when an operator
quarantines it. Leaving the feed is a removal at a new position (StopNCII `Deleted`),
so every platform stops blocking it on its next fetch.

An operator then **restores** it (back in the feed as an add at a new position) or
**removes** it for good, giving a reason either way. Every step is in the audit log.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal.cases import services as cases
from portal.cases.models import SubmittedHash
from portal.exceptions import ApplicationError
from portal.platforms.models import HashFeedback, Platform
from portal.platforms.selectors import participating_platforms
from portal.trust.audit import OPERATOR, audit_record, operator_name
from portal.trust.models import ReviewItem
from portal.trust.queue import reviews_open


@transaction.atomic
def hashes_quarantine_for_review(
    *, hashes: list[SubmittedHash], reason: str, evidence: dict[str, Any], user: Any = None
) -> int:
    """Take active hashes out of the feed (removals) and put them in the review queue."""
    active = [h for h in hashes if h.status == SubmittedHash.Status.ACTIVE]
    removed = cases.hashes_quarantine(hashes=active)
    rows = list(
        SubmittedHash.objects.filter(
            pk__in=[h.pk for h in active], status=SubmittedHash.Status.QUARANTINED
        )
    )
    reviews_open(hashes=rows, reason=reason, evidence=evidence)
    if user is not None:
        for row in rows:
            audit_record(
                actor_kind=OPERATOR,
                actor=operator_name(user),
                action="hash_quarantine",
                target=f"hash:{row.pk}",
                reason=str(evidence.get("note", "")),
            )
    return removed


def _restored_since(hash_ids: list[int]) -> dict[int, datetime]:
    return dict(
        ReviewItem.objects.filter(submitted_hash_id__in=hash_ids, state=ReviewItem.State.RESTORED)
        .values("submitted_hash_id")
        .annotate(at=Max("decided_at"))
        .values_list("submitted_hash_id", "at")
    )


def participating_platform_ids() -> set[int]:
    """Platforms whose word counts: those that take part (a live key, and fetching)."""
    return set(participating_platforms().values_list("pk", flat=True))


@transaction.atomic
def feedback_quarantine_check(*, hash_ids: list[int]) -> int:
    """Quarantine the active hashes that enough independent platforms found not violating."""
    wanted = settings.TAKEBACK_QUARANTINE_NOT_VIOLATING
    restored = _restored_since(hash_ids)
    voters: dict[int, set[int]] = {}
    for hash_id, platform_id, updated_at in HashFeedback.objects.filter(
        submitted_hash_id__in=hash_ids,
        submitted_hash__status=SubmittedHash.Status.ACTIVE,
        outcome=HashFeedback.Outcome.NOT_VIOLATING,
    ).values_list("submitted_hash_id", "platform_id", "updated_at"):
        if hash_id in restored and updated_at <= restored[hash_id]:
            continue  # a verdict the operator already overruled
        voters.setdefault(hash_id, set()).add(platform_id)
    if not voters:
        return 0
    counted = participating_platform_ids()
    due = [pk for pk, platforms in voters.items() if len(platforms & counted) >= wanted]
    if not due:
        return 0
    removed = 0
    for row in SubmittedHash.objects.filter(pk__in=due):
        removed += hashes_quarantine_for_review(
            hashes=[row],
            reason=ReviewItem.Reason.NOT_VIOLATING,
            evidence={"not_violating": len(voters[row.pk] & counted)},
        )
    return removed


def flood_record(*, platform: Platform, hits: dict[int, set[str]]) -> int:
    """Count the distinct uploads (query hashes) each stored hash matched today.

    `hits`: stored hash id -> the query values that matched it in one match call.
    Kept in the cache only (a keyed digest of each query, for one day). A hash that
    matched `TAKEBACK_QUARANTINE_FLOOD_UPLOADS` distinct uploads is quarantined:
    a picture that common is not one person's intimate image.
    """
    day = timezone.now().date().isoformat()
    limit = settings.TAKEBACK_QUARANTINE_FLOOD_UPLOADS
    due = []
    for hash_id, values in hits.items():
        counter = f"tb:flood:{day}:{hash_id}"
        cache.add(counter, 0, timeout=2 * 24 * 3600)
        for value in values:
            seen = hashlib.sha256(f"{hash_id}:{value}".encode()).hexdigest()[:24]
            if cache.add(f"tb:flood:{day}:seen:{seen}", 1, timeout=2 * 24 * 3600):
                try:
                    count = cache.incr(counter)
                except ValueError:
                    cache.set(counter, 1, timeout=2 * 24 * 3600)
                    count = 1
                if count == limit:
                    due.append(hash_id)
    if not due:
        return 0
    with transaction.atomic():
        rows = list(SubmittedHash.objects.filter(pk__in=due, status=SubmittedHash.Status.ACTIVE))
        return hashes_quarantine_for_review(
            hashes=rows, reason=ReviewItem.Reason.FLOOD, evidence={"distinct_uploads": limit}
        )


def _decide(*, review: ReviewItem, state: str, user: Any, note: str) -> ReviewItem:
    note = note.strip()
    if not note:
        raise ApplicationError("Give a reason for the decision.", code="reason_required")
    review = ReviewItem.objects.select_for_update().get(pk=review.pk)
    if review.state != ReviewItem.State.OPEN:
        raise ApplicationError("This review was already decided.", code="already_decided")
    review.state = state
    review.decided_at = timezone.now()
    review.decided_by = user
    review.note = note
    review.save(update_fields=["state", "decided_at", "decided_by", "note"])
    audit_record(
        actor_kind=OPERATOR,
        actor=operator_name(user),
        action=f"review_{state}",
        target=f"hash:{review.submitted_hash_id}",
        reason=note,
    )
    return review


@transaction.atomic
def review_restore(*, review: ReviewItem, user: Any, note: str) -> ReviewItem:
    """Put the hash back in the feed as an add (a new position); the reason is logged."""
    review = _decide(review=review, state=ReviewItem.State.RESTORED, user=user, note=note)
    cases.hashes_restore(hashes=[review.submitted_hash])
    return review


@transaction.atomic
def review_remove(*, review: ReviewItem, user: Any, note: str) -> ReviewItem:
    """Keep the hash out of the feed for good (it stays quarantined); the reason is logged."""
    return _decide(review=review, state=ReviewItem.State.REMOVED, user=user, note=note)
