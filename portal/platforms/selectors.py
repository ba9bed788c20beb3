"""Reads about platforms: how far each has taken a case's hashes."""

import uuid
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Max, OuterRef, QuerySet

from portal.cases.models import Case, SubmittedHash
from portal.platforms.models import ApiKey, HashFeedback, Platform


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
    # Per file (item_id): outcome -> how many platforms reported it for any of the
    # file's hashes. One upload matched by MD5, SHA-256 and PDQ is one file on one
    # platform, not three copies.
    per_file: dict[uuid.UUID, dict[str, int]] = field(default_factory=dict)
    # outcome -> files with that outcome on at least one platform / platforms reporting it.
    outcome_files: dict[str, int] = field(default_factory=dict)
    outcome_platforms: dict[str, int] = field(default_factory=dict)

    @property
    def disagreement(self) -> bool:
        """A file blocked on one platform and reviewed and left up on another (or the same)."""
        return any(o["blocked"] and o["not_violating"] for o in self.per_file.values())


def participating_platforms() -> QuerySet[Platform]:
    """The platforms that take part: the ones counted in "N of M" and listed publicly.

    Only once they hold a live key and have fetched the feed (issue 9): a platform
    an operator registered that never took a hash must not swell a victim's "N of M".
    """
    live_key = ApiKey.objects.filter(platform=OuterRef("pk"), revoked_at__isnull=True)
    return (
        Platform.objects.filter(is_active=True, fetched_seq__gt=0)
        .filter(Exists(live_key))
        .order_by("name")
    )


def case_distribution(*, case: Case) -> CaseDistribution:
    """Counts of platforms that received / removed the case's hashes, and their feedback."""
    platforms = participating_platforms()
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
    per_file: dict[uuid.UUID, dict[str, int]] = {}
    reporters: dict[str, set[int]] = {outcome: set() for outcome in feedback}
    triples = (
        HashFeedback.objects.filter(submitted_hash__case=case, platform__in=platforms)
        .values_list("submitted_hash__item_id", "platform_id", "outcome")
        .distinct()
    )
    for item_id, platform_id, outcome in triples:
        per_file.setdefault(item_id, no_feedback())[outcome] += 1
        reporters[outcome].add(platform_id)
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
        per_file=per_file,
        outcome_files={o: sum(1 for f in per_file.values() if f[o]) for o in feedback},
        outcome_platforms={o: len(ids) for o, ids in reporters.items()},
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
