"""Reads about cases for the victim's status page and the caseworkers' list."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from portal.cases.models import Case, Organisation, SubmittedHash


@dataclass(frozen=True)
class CaseItem:
    """One submitted file as the status page shows it: its hashes, never the file."""

    item_id: uuid.UUID
    media_kind: str
    added_at: datetime
    is_active: bool
    algorithms: list[str]
    # A short, stable label so a person can tell their files apart without
    # any file name having been sent: the start of the file's SHA-256.
    label: str
    # A video's vPDQ frame hashes shared besides its digests (0 for a photo).
    frames: int = 0


def item_label(hashes: dict[str, str]) -> str:
    """The label a file is shown by: the start of its SHA-256 (or MD5), as the pages show it."""
    return (hashes.get("sha256") or hashes.get("md5") or next(iter(hashes.values()), ""))[:8]


def case_items(*, case: Case) -> list[CaseItem]:
    """The files of a case, oldest first, each with its hashes' algorithms."""
    grouped: dict[uuid.UUID, list[SubmittedHash]] = {}
    for row in case.hashes.order_by("created_at", "pk"):
        grouped.setdefault(row.item_id, []).append(row)
    items = []
    for item_id, rows in grouped.items():
        by_algorithm = {row.algorithm: row.value for row in rows if row.frame is None}
        label = item_label(by_algorithm)
        items.append(
            CaseItem(
                item_id=item_id,
                media_kind=rows[0].media_kind,
                added_at=rows[0].created_at,
                is_active=any(row.is_active for row in rows),
                algorithms=sorted({row.algorithm for row in rows}),
                label=label,
                frames=sum(1 for row in rows if row.frame is not None),
            )
        )
    return items


def organisation_cases(*, organisation: Organisation) -> QuerySet[Case]:
    """The cases a charity helped with, newest first (numbers and status only)."""
    return Case.objects.filter(organisation=organisation).order_by("-created_at")


def organisations_of_user(*, user) -> QuerySet[Organisation]:
    """The active organisations a signed-in caseworker belongs to.

    Only once the session passed the second factor (`is_verified`, set by
    django-otp's middleware): a password alone makes nobody a caseworker.
    """
    is_verified = getattr(user, "is_verified", None)
    if not user.is_authenticated or is_verified is None or not is_verified():
        return Organisation.objects.none()
    return Organisation.objects.filter(members=user, is_active=True)
