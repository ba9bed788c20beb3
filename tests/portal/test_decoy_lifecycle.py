"""Decoys live as real cases do (issue 9): they withdraw, expire and arrive over time, at
times and in shapes a platform can't tell from real ones, and still trace once withdrawn."""

from __future__ import annotations

import gzip
import heapq
import itertools
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from scipy import stats

from hashing.distance import hamming_distance
from portal.cases import services as cases
from portal.platforms import decoys
from portal.platforms.feed import entry_wire, feed_serve
from portal.platforms.models import Decoy
from portal.platforms.stopncii import feed_position_start, stopncii_feed_page
from tests.support.factories import SubmittedItemFactory, case_with_items
from tests.support.platforms import platform_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_indexes(fresh_match_indexes) -> None:
    cache.clear()


class Clock:
    """`timezone.now()` under the test's control (every auto_now field reads it)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(datetime(2026, 3, 2, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def _feed(pc) -> list[dict]:
    entries, cursor = [], None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = pc.client.get(reverse("v1:hash-feed"), params).json()
        entries += body["entries"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return entries


def _snapshot_values(pc) -> set[str]:
    response = pc.client.get(reverse("v1:hash-snapshot"))
    lines = gzip.decompress(b"".join(response.streaming_content)).decode().splitlines()
    return {json.loads(line).get("value") for line in lines} - {None}


def test_a_withdrawn_decoy_case_leaves_everything_as_a_real_withdrawal_does_and_still_traces():
    acme = platform_client("Acme")
    real = case_with_items(1).case
    _feed(acme)
    head_before = max(e["seq"] for e in _feed(acme))
    (case_key,) = set(
        Decoy.objects.filter(platform=acme.platform).values_list("case_key", flat=True)
    )
    mine = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    cases.case_withdraw(case=real)
    assert decoys.decoy_case_withdraw(platform_id=acme.platform.pk, case_key=case_key) == len(mine)

    removals = [e for e in _feed(acme) if e["seq"] > head_before]
    fake = [e for e in removals if e["value"] in mine]
    genuine = [e for e in removals if e["value"] not in mine]
    assert len(fake) == len(mine) and genuine
    for entry in fake:  # the same op, status and fields as the real withdrawal's
        assert entry["op"] == "remove" and entry["status"] == "withdrawn"
        assert set(entry) == set(genuine[0])
    assert not mine & _snapshot_values(acme)
    hits = acme.client.post(
        reverse("v1:hash-match"),
        {"hashes": [{"algorithm": e["algorithm"], "value": e["value"]} for e in fake]},
        format="json",
    ).json()["results"]
    assert all(r["matches"] == [] for r in hits)
    # StopNCII: the decoys' records say Withdrawn, as the real case's do.
    acme.platform.refresh_from_db()  # it has fetched: removals are sent
    position = feed_position_start(platform=acme.platform, start_timestamp=0)
    records = stopncii_feed_page(platform=acme.platform, position=position, limit=1000).records
    statuses = {r.hash_value: r.hash_status for r in records}
    assert {statuses[v] for v in mine if v in statuses} == {"Withdrawn"}
    assert {r.hash_status for r in records if r.hash_value not in mine} == {"Withdrawn"}
    # A leaked copy of a withdrawn decoy still names the platform.
    _, traces = decoys.decoys_trace(text="\n".join(mine))
    assert [t.platform.name for t in traces] == ["Acme"]


def test_decoy_cases_older_than_the_case_lifetime_expire_in_the_hourly_run(clock):
    acme = platform_client("Acme")
    mine = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    clock.now += timedelta(days=3 * 365 + 1)
    with override_settings(TAKEBACK_DECOY_WITHDRAWAL_RATE=0.0):
        decoys.decoys_rotate(rng=random.Random(1))
    entries = {e["value"]: e for e in _feed(acme)}
    assert {entries[v]["status"] for v in mine} == {"expired"}
    assert {entries[v]["op"] for v in mine} == {"remove"}


def test_rotation_plans_arrivals_and_withdrawals_over_the_coming_hour(clock):
    platform_client("Acme")
    for _ in range(10):  # real cases in this hour of the past week
        clock.now -= timedelta(days=1)
        case_with_items(1)
    clock.now += timedelta(days=10, minutes=-5)
    with override_settings(
        TAKEBACK_DECOY_CASES_PER_REAL_CASE=0.5, TAKEBACK_DECOY_WITHDRAWAL_RATE=48.0
    ):
        events = decoys.decoys_rotate(rng=random.Random(7))
    kinds = Counter(event.kind for event in events)
    # About 0.5 x 10/7 arrivals (Poisson), and at 48 a day the one decoy case goes in an hour
    # with probability 1 - e^-2: this seed draws both.
    assert kinds[decoys.WITHDRAW] == 1 and kinds[decoys.REGISTER] >= 1
    assert all(0 <= event.delay <= 3600 for event in events)
    assert len({round(event.delay, 3) for event in events}) == len(events)
    for event in events:
        decoys.decoy_event_run(event=event)
    statuses = Counter(Decoy.objects.values_list("status", flat=True))
    assert statuses["withdrawn"] == sum(decoys.DECOYS_PER_ALGORITHM.values())
    assert statuses["active"] > 0


def test_the_withdrawal_rate_is_measured_on_real_cases_unless_set(clock):
    start = clock.now
    made = [case_with_items(1).case for _ in range(40)]
    clock.now = start + timedelta(days=10)
    for case in made[:10]:
        cases.case_withdraw(case=case)
    clock.now = start + timedelta(days=20)
    # 10 withdrawals over 10 x 10 + 30 x 20 = 700 case-days (counted weekly: 40 alive 14
    # days ago, 30 a week ago and now, x 7 days = 700 here too).
    assert decoys.decoy_withdrawal_rate(now=clock.now) == pytest.approx(10 / 700)
    with override_settings(TAKEBACK_DECOY_WITHDRAWAL_RATE=0.25):
        assert decoys.decoy_withdrawal_rate(now=clock.now) == 0.25


def _simulate(clock: Clock, *, days: int, seed: int, hourly) -> None:
    """Real cases arrive and withdraw at random (with a daily rhythm); decoys rotate hourly.

    Every event runs at its own moment, in time order, as production runs them.
    """
    rng = random.Random(seed)
    start = clock.now
    queue: list[tuple[datetime, int, str, object]] = []
    tie = itertools.count()

    def push(at: datetime, kind: str, what: object = None) -> None:
        heapq.heappush(queue, (at, next(tie), kind, what))

    # Real arrivals: about 24 a day, busiest in the evening (a thinned Poisson process).
    moment = start
    while moment < start + timedelta(days=days):
        moment += timedelta(seconds=rng.expovariate(48 / 86_400))
        if rng.random() < (0.9 if moment.hour >= 17 else 0.3):
            push(moment, "real")
    for hour in range(days * 24):
        push(start + timedelta(hours=hour), "rotate")
    while queue:
        at, _, kind, what = heapq.heappop(queue)
        if at >= start + timedelta(days=days):
            break
        clock.now = at
        if kind == "real":
            items = [
                SubmittedItemFactory.build(rng=rng)
                if rng.random() < 0.8
                else SubmittedItemFactory.build(rng=rng, video=True, frames=rng.choice([0, 2, 4]))
                for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 5]))
            ]
            case = cases.case_create(items=items).case
            if rng.random() < 0.3:  # some victims withdraw within days
                push(at + timedelta(seconds=rng.expovariate(1 / (3 * 86_400))), "withdraw", case)
        elif kind == "withdraw":
            cases.case_withdraw(case=what)
        elif kind == "rotate":
            hourly()
            for event in decoys.decoys_rotate(rng=rng):
                push(at + timedelta(seconds=event.delay), "decoy", event)
        else:
            decoys.decoy_event_run(event=what, rng=rng)


def _cases_seen(entries: list[dict]) -> dict[str, dict]:
    """Per case pseudonym, what the feed shows: when it arrived, its files, its removal."""
    seen: dict[str, dict] = {}
    for entry in entries:
        case = seen.setdefault(
            entry["case_id"], {"arrived": None, "files": {}, "frames": {}, "removed": False}
        )
        if entry["op"] == "add":
            at = datetime.fromisoformat(entry["changed_at"].replace("Z", "+00:00"))
            case["arrived"] = case["arrived"] or at
            case["files"].setdefault(entry["item_id"], set()).add(
                (entry["media_kind"], entry["algorithm"], entry["frame"] is not None)
            )
            if entry["frame"] is not None:
                case["frames"].setdefault(entry["item_id"], []).append(
                    (entry["frame"], entry["timestamp"], entry["value"])
                )
        else:
            case["removed"] = True
    return seen


@override_settings(TAKEBACK_DECOY_CASES_PER_REAL_CASE=0.3)
def test_decoy_timestamps_shapes_and_lifecycle_are_distributed_as_real_ones_are(clock):
    """What the feed shows of decoy cases is drawn from the same distributions as real ones.

    Fails on decoys that never change: one decoy case, all at the platform's registration.
    """
    acme = platform_client("Acme")
    registration = clock.now
    entries: list[dict] = []
    position = [0]

    def follow() -> None:  # the platform follows the feed hourly (the API's one service)
        while True:
            page = feed_serve(platform=acme.platform, after=position[0], limit=10_000)
            entries.extend(entry_wire(entry) for entry in page.entries)
            position[0] = page.position
            if not page.has_more:
                return

    _simulate(clock, days=28, seed=11, hourly=follow)
    follow()
    mine = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    decoy_cases = {e["case_id"] for e in entries if e["value"] in mine}
    seen = _cases_seen(entries)
    # The platform's first decoy case (made at its registration) aside.
    # (Cases withdrawn within the hour they arrived show only as removals, either kind.)
    seen = {k: v for k, v in seen.items() if v["arrived"] is not None}
    fake = {k: v for k, v in seen.items() if k in decoy_cases and v["arrived"] != registration}
    real = {k: v for k, v in seen.items() if k not in decoy_cases}
    assert len(fake) >= 40 and len(real) >= 300

    def compare(name: str, a: list[float], b: list[float]) -> None:
        result = stats.ks_2samp(a, b)
        assert result.pvalue > 0.01, (name, result, len(a), len(b))

    # Timestamps: the hour of day, and the time since the previous case the platform saw
    # (decoys neither cluster at the job's moment nor trail a real case's arrival).
    compare(
        "hour of day",
        [c["arrived"].hour + c["arrived"].minute / 60 for c in fake.values()],
        [c["arrived"].hour + c["arrived"].minute / 60 for c in real.values()],
    )
    compare(
        "seconds past the hour",
        [c["arrived"].minute * 60 + c["arrived"].second for c in fake.values()],
        [c["arrived"].minute * 60 + c["arrived"].second for c in real.values()],
    )
    arrivals = sorted((c["arrived"], k in fake) for k, c in seen.items() if c["arrived"])
    gaps: dict[bool, list[float]] = {True: [], False: []}
    for (before, _), (at, is_fake) in itertools.pairwise(arrivals):
        gaps[is_fake].append((at - before).total_seconds())
    compare("gap to the previous case", gaps[True], gaps[False])
    assert len({c["arrived"] for c in fake.values()}) == len(fake)
    # Case pseudonyms and shapes: files per case, and each file's kind and algorithms.
    compare(
        "files per case",
        [len(c["files"]) for c in fake.values()],
        [len(c["files"]) for c in real.values()],
    )
    shapes = {True: Counter(), False: Counter()}
    for group, is_fake in ((fake, True), (real, False)):
        for case in group.values():
            shapes[is_fake].update(frozenset(f) for f in case["files"].values())
    assert set(shapes[True]) <= set(shapes[False])
    # A video's vPDQ frames: every video PDQ is a frame, numbered and timed as real ones
    # are, and a video's frames differ from one another as much as real ones do.
    frames: dict[bool, list[tuple]] = {True: [], False: []}
    steps: dict[bool, list[int]] = {True: [], False: []}
    for group, is_fake in ((fake, True), (real, False)):
        for case in group.values():
            for run in case["frames"].values():
                frames[is_fake].append(tuple((n, t) for n, t, _ in run))
                steps[is_fake] += [hamming_distance(a[2], b[2]) for a, b in itertools.pairwise(run)]
    assert frames[True] and set(frames[True]) <= set(frames[False])
    compare("frame to frame distance", steps[True], steps[False])
    assert not any(("video", "pdq", False) in f for c in seen.values() for f in c["files"].values())
    kinds = [
        [sum(n for s, n in shapes[f].items() if ("video", "md5", False) in s), shapes[f].total()]
        for f in (True, False)
    ]
    table = [[v, total - v] for v, total in kinds]
    assert stats.chi2_contingency(table).pvalue > 0.01, table
    # Lifecycle: withdrawn at the rate real cases are.
    removed = [[sum(c["removed"] for c in g.values()), len(g)] for g in (fake, real)]
    table = [[r, n - r] for r, n in removed]
    assert removed[0][0] > 0 and stats.chi2_contingency(table).pvalue > 0.01, table


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_a_planned_event_runs_on_a_timer_at_its_moment():
    import time

    from portal.platforms.tasks import _decoy_event_later

    acme = platform_client("Acme")
    before = Decoy.objects.filter(platform=acme.platform).count()
    planned = time.monotonic()
    _decoy_event_later(
        decoys.DecoyEvent(delay=1, kind=decoys.REGISTER, platform_id=acme.platform.pk)
    )
    assert Decoy.objects.filter(platform=acme.platform).count() == before  # not yet
    while Decoy.objects.filter(platform=acme.platform).count() == before:
        assert time.monotonic() - planned < 30, "the timer never ran the decoy event"
        time.sleep(0.1)
    assert time.monotonic() - planned >= 1


def test_every_test_the_decoy_table_names_exists():
    """docs/privacy.md lists each decoy observable with its test: those tests exist."""
    import re

    from tests.support.services import ROOT

    text = (ROOT / "docs" / "privacy.md").read_text()
    section = text[text.index("## Decoys: each observable and its test") :]
    named, module = 0, ""
    for row in [line for line in section.splitlines() if line.startswith("| ")][2:]:
        for path, name in re.findall(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", row.split(" | ")[-1]):
            module = path or module
            source = (ROOT / module).read_text()
            if name:
                assert f"def {name}(" in source, (module, name)
                named += 1
    assert named >= 15


def test_a_decoy_videos_frames_match_on_match_videos_as_a_real_videos_do():
    """Probe 2 on /match/videos: each fed video's frames, sent back, match it as a video."""
    acme = platform_client("Acme")
    real = cases.case_create(
        items=[SubmittedItemFactory.build(rng=random.Random(3), video=True, frames=4)]
    ).case
    decoys.decoy_case_register(platform=acme.platform)  # shaped as the real case
    entries = _feed(acme)
    videos: dict[str, list[dict]] = {}
    for entry in entries:
        if entry["frame"] is not None:
            videos.setdefault(entry["item_id"], []).append(entry)
    assert len(videos) == 2  # the real video and its decoy twin
    mine = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    assert sum(bool({e["value"] for e in run} & mine) for run in videos.values()) == 1
    for item_id, run in videos.items():
        query = {
            "vpdq": [
                {"frame": e["frame"], "timestamp": e["timestamp"], "pdq": e["value"], "quality": 90}
                for e in run
            ]
        }
        response = acme.client.post(reverse("v1:video-match"), {"videos": [query]}, format="json")
        (result,) = response.json()["results"]
        (hit,) = [h for h in result["videos"] if h["match"]]
        assert hit["item_id"] == item_id and hit["compared_frames"] == len(run)
        assert hit["md5"] and set(hit["feedback"]) == set(result["videos"][0]["feedback"])
        assert result["photos"] == []  # a video's frames are not photos, decoy or real
    assert real.hashes.filter(frame__isnull=False).count() == 4
