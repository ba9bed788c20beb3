"""Reads about platforms: how far each has taken a case's hashes."""

from dataclasses import dataclass

from django.db.models import Count, Max, QuerySet

from portal.cases.models import Case, SubmittedHash
from portal.platforms.models import HashFeedback, Platform


@dataclass(frozen=True)
class CaseDistribution:
    """What a victim may see about where their hashes went: counts only."""

    platforms_total: int
    # Platforms that have been sent every active hash of the case.
    platforms_received: int
    # Platforms that confirmed applying every removal of the case.
    platforms_removed: int
    hashes_active: int
    hashes_removed: int
    feedback: dict[str, int]  # outcome -> number of (platform, hash) reports


def case_distribution(*, case: Case) -> CaseDistribution:
    """Counts of platforms that received / removed the case's hashes, and their feedback."""
    platforms = Platform.objects.filter(is_active=True)
    hashes = SubmittedHash.objects.filter(case=case)
    active = hashes.filter(status=SubmittedHash.Status.ACTIVE)
    removed = hashes.exclude(status=SubmittedHash.Status.ACTIVE)
    last_added = active.aggregate(m=Max("feed_seq"))["m"]
    last_removed = removed.aggregate(m=Max("feed_seq"))["m"]
    feedback = {outcome: 0 for outcome in HashFeedback.Outcome.values}
    for outcome in HashFeedback.objects.filter(submitted_hash__case=case).values_list(
        "outcome", flat=True
    ):
        feedback[outcome] += 1
    return CaseDistribution(
        platforms_total=platforms.count(),
        platforms_received=platforms.filter(fetched_seq__gte=last_added).count()
        if last_added is not None
        else 0,
        platforms_removed=platforms.filter(applied_seq__gte=last_removed).count()
        if last_removed is not None
        else 0,
        hashes_active=active.count(),
        hashes_removed=removed.count(),
        feedback=feedback,
    )


def last_removal_seq() -> int:
    """The feed position of the newest removal (0 if nothing was ever removed)."""
    removed = SubmittedHash.objects.exclude(status=SubmittedHash.Status.ACTIVE)
    return removed.aggregate(m=Max("feed_seq"))["m"] or 0


def platform_removals_pending(*, platform: Platform) -> int:
    """Removals in the feed after the position the platform acknowledged applying."""
    return (
        SubmittedHash.objects.exclude(status=SubmittedHash.Status.ACTIVE)
        .filter(feed_seq__gt=platform.applied_seq)
        .count()
    )


def platforms_lagging() -> QuerySet[Platform]:
    """Active platforms that have not acknowledged every removal so far."""
    return Platform.objects.filter(is_active=True, applied_seq__lt=last_removal_seq())


def no_feedback() -> dict[str, int]:
    """Feedback counts of a hash nobody has reported on."""
    return dict.fromkeys(HashFeedback.Outcome.values, 0)


def feedback_counts(*, hash_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per hash: how many platforms reported each outcome (never which platforms)."""
    found: dict[int, dict[str, int]] = {}
    rows = (
        HashFeedback.objects.filter(submitted_hash_id__in=hash_ids)
        .values("submitted_hash_id", "outcome")
        .annotate(n=Count("id"))
    )
    for row in rows:
        found.setdefault(row["submitted_hash_id"], no_feedback())[row["outcome"]] = row["n"]
    return found
