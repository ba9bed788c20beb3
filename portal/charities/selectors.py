"""Reads for caseworkers and org admins: their cases with counts, staff, links.

The dashboard's counts are correlated subqueries on the case rows, so a page of
cases is one query however many cases it shows (tests/portal/test_charities_pages.py
counts them). Nothing here returns a PIN, a hash value or anything of an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import (
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Replace
from django.utils import timezone

from portal.cases.models import Case, Organisation, SubmittedHash
from portal.charities.models import CaseNote, HandoffLink, Invitation, Role, StaffRole
from portal.platforms.models import ApiKey, HashFeedback, Platform


class SubqueryCount(Subquery):
    """COUNT(*) of a correlated queryset, as one scalar subquery."""

    template = "(SELECT count(*) FROM (%(subquery)s) _count)"
    output_field = IntegerField()


def platforms_counted() -> QuerySet[Platform]:
    """Platforms that count toward a victim's totals: active, with a key that works."""
    live_key = ApiKey.objects.filter(platform=OuterRef("pk"), revoked_at__isnull=True)
    return Platform.objects.filter(is_active=True).filter(Exists(live_key))


STATUS_FILTERS = ("active", "withdrawn", "expired", "follow_up")


def organisation_case_rows(
    *, organisation: Organisation, search: str = "", show: str = ""
) -> QuerySet[Case]:
    """The organisation's cases, newest first, each annotated with what the dashboard shows.

    `search` matches part of a case number (dashes and case don't matter); `show`
    is one of STATUS_FILTERS ("follow_up": a follow-up date today or earlier).
    """
    hashes = SubmittedHash.objects.filter(case=OuterRef("pk")).order_by()
    active = hashes.filter(status=SubmittedHash.Status.ACTIVE)
    removed = hashes.exclude(status=SubmittedHash.Status.ACTIVE)
    platforms = platforms_counted().order_by()
    blocks = HashFeedback.objects.filter(
        submitted_hash__case=OuterRef("pk"), outcome=HashFeedback.Outcome.BLOCKED
    ).order_by()
    follow_up = (
        CaseNote.objects.filter(case=OuterRef("pk"), organisation=organisation)
        .exclude(follow_up_on=None)
        .order_by("-created_at")
        .values("follow_up_on")[:1]
    )
    rows = (
        Case.objects.filter(organisation=organisation)
        .annotate(
            last_added=Subquery(active.values("case").annotate(m=Max("feed_seq")).values("m")[:1]),
            last_removed=Subquery(
                removed.values("case").annotate(m=Max("feed_seq")).values("m")[:1]
            ),
        )
        .annotate(
            files=SubqueryCount(hashes.values("item_id").distinct()),
            files_active=SubqueryCount(active.values("item_id").distinct()),
            platforms_reached=Coalesce(
                SubqueryCount(platforms.filter(fetched_seq__gte=OuterRef("last_added"))), 0
            ),
            removals_confirmed=SubqueryCount(
                platforms.filter(applied_seq__gte=OuterRef("last_removed"))
            ),
            blocks=SubqueryCount(blocks),
            first_block_at=Subquery(
                blocks.values("submitted_hash__case").annotate(m=Min("created_at")).values("m")[:1]
            ),
            follow_up_on=Subquery(follow_up),
        )
        .order_by("-created_at", "-pk")
    )
    needle = "".join(search.split()).replace("-", "").upper()
    if needle:
        # Case numbers are stored in groups of 4 with dashes; match ignoring them.
        rows = rows.annotate(bare_number=Replace("number", Value("-"), Value(""))).filter(
            bare_number__contains=needle
        )
    if show in (Case.Status.ACTIVE, Case.Status.WITHDRAWN, Case.Status.EXPIRED):
        rows = rows.filter(status=show)
    elif show == "follow_up":
        rows = rows.filter(follow_up_on__lte=timezone.localdate())
    return rows


def organisation_case(*, organisation: Organisation, number: str) -> Case | None:
    """One of the organisation's cases, annotated as on the dashboard; None for anyone else's."""
    return organisation_case_rows(organisation=organisation).filter(number=number).first()


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime | date
    kind: str
    text: str


def organisation_case_timeline(*, organisation: Organisation, case: Case) -> list[TimelineEvent]:
    """What happened to a case, oldest first: submitted, shared, first block, notes, expiry.

    `case` comes from organisation_case (annotated). Shared = the first time a
    counted platform fetched past the case's first hash (approximated by the
    platforms' fetch times, as the feed keeps no per-case delivery log).
    """
    events = [TimelineEvent(case.created_at, "submitted", "submitted")]
    first = case.hashes.aggregate(m=Min("feed_seq"))["m"]
    if first is not None:
        shared = (
            platforms_counted().filter(fetched_seq__gte=first).aggregate(m=Min("fetched_at"))["m"]
        )
        if shared is not None:
            events.append(TimelineEvent(max(shared, case.created_at), "shared", "shared"))
    first_block_at = getattr(case, "first_block_at", None)
    if first_block_at is not None:
        events.append(TimelineEvent(first_block_at, "blocked", "blocked"))
    for removed in (
        case.hashes.exclude(status=SubmittedHash.Status.ACTIVE)
        .exclude(removed_at=None)
        .values("item_id", "status")
        .annotate(at=Min("removed_at"))
        .order_by("at")
    ):
        events.append(TimelineEvent(removed["at"], "withdrawal", removed["status"]))
    for note in case.notes.filter(organisation=organisation).order_by("created_at"):
        events.append(TimelineEvent(note.created_at, "note", note.get_action_display()))
    events.sort(key=lambda e: e.at if isinstance(e.at, datetime) else timezone.now())
    return events


def organisation_case_notes(*, organisation: Organisation, case: Case) -> QuerySet[CaseNote]:
    return (
        CaseNote.objects.filter(case=case, organisation=organisation)
        .select_related("author")
        .order_by("-created_at")
    )


def organisation_staff(*, organisation: Organisation) -> list[tuple[object, str]]:
    """(user, role) of every member, by username."""
    roles = dict(StaffRole.objects.filter(organisation=organisation).values_list("user_id", "role"))
    return [
        (user, roles.get(user.pk, Role.CASEWORKER))
        for user in organisation.members.order_by("username")
    ]


def organisation_invitations_open(*, organisation: Organisation) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organisation=organisation,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def organisation_handoff_links(*, organisation: Organisation) -> QuerySet[HandoffLink]:
    """The organisation's hand-off links, newest first, with the case each produced."""
    return (
        HandoffLink.objects.filter(organisation=organisation)
        .select_related("case", "created_by")
        .order_by("-created_at")
    )


def organisations_administered(*, user) -> QuerySet[Organisation]:
    return Organisation.objects.filter(
        is_active=True, members=user, roles__user=user, roles__role=Role.ADMIN
    ).distinct()
