"""Reads of the trust app: what a victim is told about each file, the open review queue."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from portal.cases.models import Case
from portal.trust.models import ReviewItem

# What the victim's status page says about a file, by the reason and state of its
# latest review. Plain words; never which platform said what.
FILE_NOTES: dict[tuple[str, str], str] = {
    (ReviewItem.Reason.BENIGN, ReviewItem.State.OPEN): (
        "Held for review: it looks very like a common picture (a plain colour, a blank "
        "page or a screen image), so it has not been shared with platforms yet. Our team "
        "will check it."
    ),
    (ReviewItem.Reason.NOT_VIOLATING, ReviewItem.State.OPEN): (
        "Paused for review: platforms that checked matching uploads found they did not "
        "break their rules, so platforms were asked to stop blocking it while our team "
        "checks."
    ),
    (ReviewItem.Reason.FLOOD, ReviewItem.State.OPEN): (
        "Paused for review: it matched an unusually large number of different uploads, "
        "so platforms were asked to stop blocking it while our team checks."
    ),
    (ReviewItem.Reason.OPERATOR, ReviewItem.State.OPEN): (
        "Paused for review by our team: platforms were asked to stop blocking it for now."
    ),
}
RESTORED_NOTE = "Reviewed by our team and shared with platforms again."
REMOVED_NOTE = (
    "Reviewed by our team and not shared with platforms. If you think this is a "
    "mistake, you can add the file again or contact a support organisation."
)


def case_file_notes(*, case: Case) -> dict[uuid.UUID, str]:
    """Per file (item id) of the case: what happened to it in review, if anything did."""
    notes: dict[uuid.UUID, str] = {}
    reviews = ReviewItem.objects.filter(submitted_hash__case=case).order_by("opened_at", "pk")
    for item_id, reason, state in reviews.values_list("submitted_hash__item_id", "reason", "state"):
        if state == ReviewItem.State.RESTORED:
            notes[item_id] = RESTORED_NOTE
        elif state == ReviewItem.State.REMOVED:
            notes[item_id] = REMOVED_NOTE
        else:
            notes[item_id] = FILE_NOTES[(reason, state)]
    return notes


def reviews_open_list() -> QuerySet[ReviewItem]:
    return ReviewItem.objects.filter(state=ReviewItem.State.OPEN).select_related("submitted_hash")
