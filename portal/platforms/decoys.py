"""Leak tracing: a few fake hashes in each platform's feed, unique to that platform.

Each platform's feed and snapshot carry its own decoys, shaped like real
entries. They come from no image, so they match nothing a user uploads, and
match never returns them (they live in their own table, outside the match
index). A hash list found in the wild that contains some of a platform's
decoys was copied from that platform's feed: `decoys_trace` tells operators
which (admin: Platforms → "Trace a leaked hash list").

Values are derived from the platform's secret pseudonym salt, so they are
deterministic per platform yet unpredictable to anyone else, and look like
real hashes: a perceptual decoy has exactly half its bits set (128 of 256 for
PDQ, 32 of 64 for pHash/dHash), as median-thresholded perceptual hashes do.
They come as whole files of a fake case, as a real submission does (the first case
`DECOY_FILES`: every shared hash of two photos, the digests of a video; later ones
shaped as real cases, see below), named by pseudonyms.decoy_disguise; how else a
platform sees them is in decoy_view.py.

Decoys take feed positions like every other feed writer, so the feed's
listeners (webhooks) hear of them the same way (portal/cases/positions.py).

**Lifecycle** (issue 9: decoys that never change stand out). A platform's first
decoy case is made when it is registered. From then on decoy cases live as real
cases do: `decoys_rotate` (hourly, Celery beat or the in-process schedule) plans the
coming hour, and each planned event runs at its own random moment in it:

- *arrivals*: each platform gets fresh decoy cases as a Poisson process whose rate is
  `TAKEBACK_DECOY_CASES_PER_REAL_CASE` times the real cases that arrived in the same
  hour of the day over the past week (so decoys follow the daily pattern of real
  arrivals, at times independent of any one real case); a decoy case copies the
  layout of a random recent real case: its number of files, each file's media kind,
  algorithms (in feed order) and PDQ quality, a video's vPDQ frames (numbers,
  timestamps, and how far each frame is from the previous one);
- *withdrawals*: each active decoy case is withdrawn with the probability real cases
  are (`decoy_withdrawal_rate`: `TAKEBACK_DECOY_WITHDRAWAL_RATE` per case per day, or,
  when unset, the rate measured on real cases over the last 13 weeks), as a removal at
  new feed positions exactly like a real withdrawal (op `remove`, status `withdrawn`,
  StopNCII `Withdrawn`, out of snapshots and /match);
- *expiry*: a decoy case older than `TAKEBACK_CASE_LIFETIME_DAYS` expires in the
  hourly run, as unrenewed real cases do in theirs (StopNCII `Deleted`).

A withdrawn or expired decoy keeps its row: a leaked copy still traces.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hashing.algorithms import ALGORITHMS, IMAGE, SHARED_ALGORITHMS, VIDEO
from hashing.distance import hamming_distance
from portal.cases.models import Case, SubmittedHash
from portal.cases.positions import feed_positions_allocate
from portal.platforms.matching import match_index_current
from portal.platforms.models import Decoy, Platform

# The fake files every platform's feed carries, shaped as real ones (issue 9: a decoy
# alone in its file, when real files carry every hash of the browser, gave it away):
# two photos with every shared image hash and a video with its digests, in the
# registry's order, at consecutive positions like a real submission.
DECOY_FILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    *[(IMAGE, tuple(a for a in SHARED_ALGORITHMS if IMAGE in ALGORITHMS[a].media_kinds))] * 2,
    (VIDEO, tuple(a for a in SHARED_ALGORITHMS if VIDEO in ALGORITHMS[a].media_kinds)),
)
# How many decoys of each shared algorithm that makes.
DECOYS_PER_ALGORITHM = {
    name: sum(name in algorithms for _, algorithms in DECOY_FILES) for name in SHARED_ALGORITHMS
}
_HEX_TOKEN = re.compile(r"[0-9a-fA-F]{16,64}")


def _seed(*, platform: Platform, algorithm: str, counter: int) -> bytes:
    message = f"decoy:{algorithm}:{counter}".encode()
    return hmac.new(platform.pseudonym_salt.encode(), message, hashlib.sha256).digest()


def decoy_value(*, platform: Platform, algorithm: str, counter: int) -> str:
    """The `counter`-th candidate decoy of `algorithm` for `platform` (deterministic)."""
    if algorithm not in SHARED_ALGORITHMS:
        raise ValueError(f"no decoys for {algorithm!r}")
    seed = _seed(platform=platform, algorithm=algorithm, counter=counter)
    facts = ALGORITHMS[algorithm]
    if facts.perceptual:
        rng = random.Random(seed)
        number = sum(1 << bit for bit in rng.sample(range(facts.bits), facts.bits // 2))
        return f"{number:0{facts.hex_length}x}"
    # A digest: hash the seed once more, so the value is not the seed itself.
    return hashlib.sha256(seed).hexdigest()[: facts.hex_length]


def _matches_real(*, algorithm: str, value: str) -> bool:
    """Would this value match a stored hash (any status)? Then it can't be a decoy."""
    facts = ALGORITHMS[algorithm]
    if facts.exact:
        return SubmittedHash.objects.filter(algorithm=algorithm, value=value).exists()
    return bool(match_index_current(algorithm=algorithm).query(value, facts.threshold))


# One hash of a file's layout: algorithm, PDQ quality, and for a video's vPDQ frame its
# number, timestamp and Hamming distance from the file's previous frame (else None).
HashShape = tuple[str, int | None, int | None, float | None, int | None]
# One file of a case's layout: its media kind and its hashes.
FileShape = tuple[str, tuple[HashShape, ...]]


def _registration_shape(*, platform: Platform) -> list[FileShape]:
    """DECOY_FILES, with a PDQ quality of 70-100 derived from the platform's salt."""
    shape: list[FileShape] = []
    for n, (media_kind, algorithms) in enumerate(DECOY_FILES):
        quality = 70 + _seed(platform=platform, algorithm="q", counter=n + 1)[0] % 31
        pdq = SubmittedHash.Algorithm.PDQ
        hashes = tuple((a, quality if a == pdq else None, None, None, None) for a in algorithms)
        shape.append((media_kind, hashes))
    return shape


def _real_case_shape(*, now: datetime, rng: random.Random) -> list[FileShape] | None:
    """The layout of a random real case of the last 30 days (None if there is none).

    Its files in the order they were added, each with its media kind and its hashes'
    algorithms and PDQ quality, as first stored (creation order, whatever happened since);
    a video's vPDQ frames with their numbers, timestamps and how far each frame's hash
    is from the previous one's (a video's frames resemble each other).
    """
    recent = Case.objects.filter(created_at__gte=now - timedelta(days=30), created_at__lte=now)
    count = recent.count()
    if not count:
        return None
    case_id = recent.order_by("pk").values_list("pk", flat=True)[rng.randrange(count)]
    files: dict[object, tuple[str, list[HashShape]]] = {}
    previous: dict[object, str] = {}
    for item_id, media_kind, algorithm, value, quality, frame, timestamp in (
        SubmittedHash.objects.filter(case_id=case_id)
        .order_by("pk")
        .values_list(
            "item_id", "media_kind", "algorithm", "value", "quality", "frame", "frame_timestamp"
        )
    ):
        step = None
        if frame is not None:
            step = hamming_distance(previous[item_id], value) if item_id in previous else None
            previous[item_id] = value
        files.setdefault(item_id, (media_kind, []))[1].append(
            (algorithm, quality, frame, timestamp, step)
        )
    return [(kind, tuple(hashes)) for kind, hashes in files.values()] or None


def _fresh_value(*, platform: Platform, algorithm: str, start: int) -> tuple[str, int]:
    """The platform's next unused decoy value of `algorithm`, from counter `start` on."""
    counter = start
    while True:
        value = decoy_value(platform=platform, algorithm=algorithm, counter=counter)
        counter += 1
        if not Decoy.objects.filter(
            algorithm=algorithm, value=value
        ).exists() and not _matches_real(algorithm=algorithm, value=value):
            return value, counter


def _next_frame(*, previous: str, step: int, rng: random.Random) -> str:
    """A PDQ `step` bits from `previous`, keeping its bit count (to within one bit)."""
    number = int(previous, 16)
    ones = [bit for bit in range(256) if number >> bit & 1]
    zeros = [bit for bit in range(256) if not number >> bit & 1]
    down = min(len(ones), (step + 1) // 2)
    up = min(len(zeros), step - down)
    for bit in rng.sample(ones, down) + rng.sample(zeros, up):
        number ^= 1 << bit
    return f"{number:064x}"


def _frame_value(*, platform: Platform, previous: str, step: int, counter: int) -> str:
    """A fresh decoy frame `step` bits from the file's previous decoy frame."""
    while True:
        rng = random.Random(
            _seed(platform=platform, algorithm=f"frame:{previous}", counter=counter)
        )
        value = _next_frame(previous=previous, step=step, rng=rng)
        counter += 1
        if not Decoy.objects.filter(algorithm="pdq", value=value).exists() and not _matches_real(
            algorithm="pdq", value=value
        ):
            return value


def _case_key() -> int:
    # Random, so a platform can't count decoy cases from their pseudonyms' inputs.
    return secrets.randbits(62) + 1


@transaction.atomic
def decoy_case_register(
    *, platform: Platform, shape: list[FileShape] | None = None, rng: random.Random | None = None
) -> list[Decoy]:
    """One new decoy case for `platform`, now: its files at new feed positions.

    `shape` defaults to the layout of a random recent real case (else DECOY_FILES).
    """
    rng = rng or random.Random(secrets.randbits(64))
    now = timezone.now()
    shape = shape or _real_case_shape(now=now, rng=rng) or _registration_shape(platform=platform)
    counters: dict[str, int] = {}
    rows: list[Decoy] = []
    case_key = _case_key()
    for media_kind, hashes in shape:
        item_key = _case_key()
        last_frame = None
        for algorithm, quality, frame, timestamp, step in hashes:
            start = counters.get(algorithm)
            if start is None:
                start = Decoy.objects.filter(platform=platform, algorithm=algorithm).count()
            if last_frame is not None and step is not None:
                # A video's next frame resembles its last one, as in the real video.
                value = _frame_value(platform=platform, previous=last_frame, step=step, counter=0)
            else:
                value, counters[algorithm] = _fresh_value(
                    platform=platform, algorithm=algorithm, start=start
                )
            if frame is not None:
                last_frame = value
            rows.append(
                Decoy(
                    platform=platform,
                    algorithm=algorithm,
                    value=value,
                    quality=quality if algorithm == SubmittedHash.Algorithm.PDQ else None,
                    media_kind=media_kind,
                    frame=frame,
                    frame_timestamp=timestamp,
                    case_key=case_key,
                    item_key=item_key,
                )
            )
    if not rows:
        return []
    # Positions from the shared counter: decoys sit among real entries in the feed.
    positions = feed_positions_allocate(count=len(rows))
    # The clock after the feed lock, as for real rows: times follow feed order.
    now = timezone.now()
    for row, seq in zip(rows, positions, strict=True):
        row.feed_seq, row.changed_at = seq, now
    return Decoy.objects.bulk_create(rows)


@transaction.atomic
def decoys_create(*, platform: Platform) -> list[Decoy]:
    """Give `platform` its first decoy case (DECOY_FILES) if it has no active decoy."""
    if Decoy.objects.filter(platform=platform, status=Decoy.Status.ACTIVE).exists():
        return []
    return decoy_case_register(platform=platform, shape=_registration_shape(platform=platform))


@transaction.atomic
def decoy_case_withdraw(
    *, platform_id: int, case_key: int, status: str = Decoy.Status.WITHDRAWN
) -> int:
    """Withdraw (or expire) one decoy case: each decoy leaves the feed as a removal.

    Exactly what a real withdrawal does (portal/cases/services.py `_hashes_remove`):
    new positions in the old order, the clock read after the feed lock.
    """
    rows = list(
        Decoy.objects.select_for_update()
        .filter(platform_id=platform_id, case_key=case_key, status=Decoy.Status.ACTIVE)
        .order_by("feed_seq")
    )
    if not rows:
        return 0
    positions = feed_positions_allocate(count=len(rows))
    now = timezone.now()
    for row, seq in zip(rows, positions, strict=True):
        row.status, row.feed_seq, row.changed_at, row.removed_at = status, seq, now, now
    Decoy.objects.bulk_update(rows, ["status", "feed_seq", "changed_at", "removed_at"])
    return len(rows)


# Rotation -------------------------------------------------------------------------

# Until there are this many real cases to measure a withdrawal rate on, decoy cases
# are withdrawn at FALLBACK_WITHDRAWAL_RATE per case per day (one in about four a year).
MIN_CASES_MEASURED = 20
FALLBACK_WITHDRAWAL_RATE = 1 / (4 * 365)
WITHDRAWAL_WEEKS = 13
WITHDRAWAL_WINDOW = timedelta(weeks=WITHDRAWAL_WEEKS)
ARRIVAL_WEEK_DAYS = 7

REGISTER = "register"
WITHDRAW = "withdraw"


@dataclass(frozen=True)
class DecoyEvent:
    """One planned change to a platform's decoys, `delay` seconds after planning."""

    delay: float
    kind: str  # REGISTER or WITHDRAW
    platform_id: int
    case_key: int = 0


def decoy_withdrawal_rate(*, now: datetime) -> float:
    """Withdrawals per case per day: the setting, or real cases' over the last 13 weeks.

    Measured as whole-case withdrawals in the window divided by the case-days real
    cases were active in it, the case-days counted weekly (the cases alive at each of
    13 moments a week apart, times 7): 14 counts, whatever the number of cases.
    """
    if settings.TAKEBACK_DECOY_WITHDRAWAL_RATE is not None:
        return float(settings.TAKEBACK_DECOY_WITHDRAWAL_RATE)
    withdrawn = Case.objects.filter(
        status=Case.Status.WITHDRAWN,
        withdrawn_at__gt=now - WITHDRAWAL_WINDOW,
        withdrawn_at__lte=now,
    ).count()
    alive = [
        Case.objects.filter(created_at__lte=moment)
        .exclude(status=Case.Status.WITHDRAWN, withdrawn_at__lte=moment)
        .exclude(status=Case.Status.EXPIRED, expires_at__lte=moment)
        .count()
        for moment in (now - timedelta(weeks=week) for week in range(WITHDRAWAL_WEEKS))
    ]
    if max(alive) < MIN_CASES_MEASURED:
        return FALLBACK_WITHDRAWAL_RATE
    return withdrawn / (sum(alive) * 7)


def decoy_arrivals_expected(*, now: datetime, interval: timedelta) -> float:
    """Fresh decoy cases one platform should get in the coming `interval`.

    `TAKEBACK_DECOY_CASES_PER_REAL_CASE` times the real cases that arrived in the same
    stretch of the day on each of the past seven days, averaged: decoys follow the
    daily rhythm of real arrivals.
    """
    stretches = Q()
    for day in range(1, ARRIVAL_WEEK_DAYS + 1):
        begin = now - timedelta(days=day)
        stretches |= Q(created_at__gte=begin, created_at__lt=begin + interval)
    real = Case.objects.filter(stretches).count() / ARRIVAL_WEEK_DAYS
    return settings.TAKEBACK_DECOY_CASES_PER_REAL_CASE * real


def _poisson(rng: random.Random, expected: float) -> int:
    # Knuth's method: fine for the small rates here.
    limit, count, product = math.exp(-expected), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def decoys_rotate(
    *, interval: timedelta = timedelta(hours=1), rng: random.Random | None = None
) -> list[DecoyEvent]:
    """Expire decoy cases past their lifetime now; plan the next `interval`'s events.

    Each event gets a uniformly random moment in the interval (given a count, the
    arrivals of a Poisson process are uniform in it), to be run by `decoy_event_run`
    (the task layer runs it then). A platform left with no active decoy gets one
    arrival planned whatever the rate, so leak tracing never lapses.
    """
    rng = rng or random.Random(secrets.randbits(64))
    now = timezone.now()
    lifetime = timedelta(days=settings.TAKEBACK_CASE_LIFETIME_DAYS)
    for platform_id, case_key in (
        Decoy.objects.filter(status=Decoy.Status.ACTIVE, created_at__lte=now - lifetime)
        .values_list("platform_id", "case_key")
        .distinct()
    ):
        decoy_case_withdraw(platform_id=platform_id, case_key=case_key, status=Decoy.Status.EXPIRED)
    seconds = interval.total_seconds()
    expected = decoy_arrivals_expected(now=now, interval=interval)
    withdraw_p = 1 - math.exp(-decoy_withdrawal_rate(now=now) * seconds / 86_400)
    events: list[DecoyEvent] = []
    for platform_id in Platform.objects.filter(is_active=True).values_list("pk", flat=True):
        active = sorted(
            set(
                Decoy.objects.filter(
                    platform_id=platform_id, status=Decoy.Status.ACTIVE
                ).values_list("case_key", flat=True)
            )
        )
        arrivals = _poisson(rng, expected)
        withdrawals = [key for key in active if rng.random() < withdraw_p]
        if len(withdrawals) == len(active):
            arrivals = max(arrivals, 1)
        events += [
            DecoyEvent(delay=rng.uniform(0, seconds), kind=REGISTER, platform_id=platform_id)
            for _ in range(arrivals)
        ]
        events += [
            DecoyEvent(
                delay=rng.uniform(0, seconds), kind=WITHDRAW, platform_id=platform_id, case_key=key
            )
            for key in withdrawals
        ]
    return sorted(events, key=lambda event: event.delay)


def decoy_event_run(*, event: DecoyEvent, rng: random.Random | None = None) -> int:
    """Carry out one planned event now; the number of decoys it changed."""
    if event.kind == WITHDRAW:
        return decoy_case_withdraw(platform_id=event.platform_id, case_key=event.case_key)
    platform = Platform.objects.filter(pk=event.platform_id, is_active=True).first()
    if platform is None:
        return 0
    return len(decoy_case_register(platform=platform, rng=rng))


@dataclass(frozen=True)
class DecoyTrace:
    """One platform whose decoys appear in a found hash list."""

    platform: Platform
    found: int
    total: int
    values: list[str]


def decoys_trace(*, text: str) -> tuple[int, list[DecoyTrace]]:
    """Which platforms' decoys a pasted hash list contains, most found first.

    Accepts any text (CSV, JSON, one hash a line): every run of 16-64 hex digits
    is read as a hash. Returns the number of hashes read and the traces.
    """
    values = {token.lower() for token in _HEX_TOKEN.findall(text)}
    found: dict[int, list[str]] = {}
    for platform_id, value in Decoy.objects.filter(value__in=values).values_list(
        "platform_id", "value"
    ):
        found.setdefault(platform_id, []).append(value)
    platforms = Platform.objects.in_bulk(list(found))
    traces = [
        DecoyTrace(
            platform=platforms[pk],
            found=len(hits),
            total=Decoy.objects.filter(platform_id=pk).count(),
            values=sorted(hits),
        )
        for pk, hits in found.items()
    ]
    traces.sort(key=lambda trace: (-trace.found, trace.platform.name))
    return len(values), traces
