"""Opening reviews: the one step every path into the review queue shares (a leaf, so
the cases admin and the benign screen can use it without knowing of platforms)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from portal.cases.models import SubmittedHash
from portal.trust.audit import SYSTEM, audit_record
from portal.trust.models import ReviewItem


def reviews_open(
    *, hashes: Iterable[SubmittedHash], reason: str, evidence: dict[str, Any]
) -> list[ReviewItem]:
    """Open a review for each hash that has none open (the hashes are out of the feed)."""
    rows = list(hashes)
    have = set(
        ReviewItem.objects.filter(submitted_hash__in=rows, state=ReviewItem.State.OPEN).values_list(
            "submitted_hash_id", flat=True
        )
    )
    opened = ReviewItem.objects.bulk_create(
        [
            ReviewItem(submitted_hash=row, reason=reason, evidence=evidence)
            for row in rows
            if row.pk not in have
        ]
    )
    for review in opened:
        audit_record(
            actor_kind=SYSTEM,
            actor="takeback",
            action="review_open",
            target=f"hash:{review.submitted_hash_id}",
            detail={"reason": reason, **evidence},
        )
    return opened
