"""Aggregates for the operators' statistics page: counts per day, never per person.

Small counts are suppressed (SMALL_COUNT): a day with 1 to 4 new cases, say, is
shown as "fewer than 5" and drawn as nothing, so nobody can be singled out by
lining a chart up with what they know of one person's submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.apps import apps
from django.db.models import Count, Max, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from portal.cases.models import Case, SubmittedHash
from portal.charities.charts import Series
from portal.charities.models import PlatformSyncSample
from portal.charities.selectors import platforms_counted
from portal.platforms.models import HashFeedback

DAYS = 30
SMALL_COUNT = 5  # counts 1..4 are suppressed


def suppress(n: int) -> int | None:
    return None if 0 < n < SMALL_COUNT else n


def last_days(*, today: date | None = None, days: int = DAYS) -> list[date]:
    today = today or timezone.localdate()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _daily(
    qs: QuerySet, field: str, by: str | None, days: list[date], name: str = ""
) -> list[Series]:
    start = days[0]
    rows = (
        qs.filter(**{f"{field}__date__gte": start})
        .annotate(day=TruncDate(field))
        .values("day", *([by] if by else []))
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[str, dict[date, int]] = {}
    for row in rows:
        counts.setdefault(row[by] if by else name, {})[row["day"]] = row["n"]
    return [
        Series(name=str(name), values=[suppress(per_day.get(d, 0)) for d in days])
        for name, per_day in sorted(counts.items())
    ]


@dataclass(frozen=True)
class PlatformSync:
    name: str
    lag: int  # feed positions behind the head
    synced_recently: bool


@dataclass(frozen=True)
class Statistics:
    days: list[date]
    cases: list[Series]
    hashes_by_algorithm: list[Series]
    hashes_by_media_kind: list[Series]
    feedback: list[Series]
    withdrawals: list[Series]
    quarantines: list[Series]
    platforms: list[PlatformSync]
    # Each counted platform's largest feed lag per day, from PlatformSyncSample
    # (None on days without a sample); not people, so nothing is suppressed.
    lag_history: list[Series]
    review_queue: int | None  # None while the review queue does not exist


def statistics(*, today: date | None = None) -> Statistics:
    days = last_days(today=today)
    hashes = SubmittedHash.objects.all()
    head = hashes.aggregate(m=Max("feed_seq"))["m"] or 0
    recent = timezone.now() - timedelta(hours=24)
    review_queue = None
    if apps.is_installed("portal.trust"):
        # Looked up by name: the trust app's review queue, counted, without importing it.
        review_item = apps.get_model("trust", "ReviewItem")
        review_queue = review_item.objects.filter(state="open").count()
    return Statistics(
        days=days,
        cases=_daily(Case.objects.all(), "created_at", None, days, "cases"),
        hashes_by_algorithm=_daily(hashes, "created_at", "algorithm", days),
        hashes_by_media_kind=_daily(hashes, "created_at", "media_kind", days),
        feedback=_daily(HashFeedback.objects.all(), "created_at", "outcome", days),
        withdrawals=_daily(
            hashes.filter(status=SubmittedHash.Status.WITHDRAWN), "removed_at", None, days, "hashes"
        ),
        quarantines=_daily(
            hashes.filter(status=SubmittedHash.Status.QUARANTINED),
            "removed_at",
            None,
            days,
            "hashes",
        ),
        platforms=[
            PlatformSync(
                name=p.name,
                lag=max(head - p.fetched_seq, 0),
                synced_recently=bool(p.fetched_at and p.fetched_at >= recent),
            )
            for p in platforms_counted().order_by("name")
        ],
        review_queue=review_queue,
        lag_history=_lag_history(days),
    )


def _lag_history(days: list[date]) -> list[Series]:
    rows = (
        PlatformSyncSample.objects.filter(taken_at__date__gte=days[0])
        .annotate(day=TruncDate("taken_at"))
        .values("platform__name", "day")
        .annotate(lag=Max("lag"))
        .order_by()
    )
    by_platform: dict[str, dict[date, int]] = {}
    for row in rows:
        by_platform.setdefault(row["platform__name"], {})[row["day"]] = row["lag"]
    return [
        Series(name=name, values=[per_day.get(d) for d in days])
        for name, per_day in sorted(by_platform.items())
    ]
