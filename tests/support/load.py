"""The load-consistency scenario (issue 16): victims submit and withdraw while platforms sync.

Against a running `tests.support.stack.Stack`: victims use the victim's pages exactly
as the browser does (eligibility form, `POST /submit/hashes/`, add-to-case `POST
/case/add/hashes/`, withdraw one file or the whole case through the status page's
forms), while each platform follows the feed with the platform toolkit
(`hashing.platform.sync`: snapshot, then feed pages by cursor, acknowledged) into its own
SQLite replica. When every write has returned, each platform syncs once more, and its
replica is compared row by row with what the database holds for it
(`Stack.replicas_expected`): no lost, duplicated or stale entry.

Used in a short form by tests/test_load_consistency.py and at length by
bench/bench_consistency.py.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashing.platform import snapshot_format
from hashing.platform.client import Client, FeedResponse
from hashing.platform.store import Store
from hashing.platform.sync import sync
from tests.support.stack import BrowserClient

# How the servers are configured for load runs, through settings production.py already
# reads (README "Deploying"); production defaults stay as they are.
LOAD_ENV = {
    # Behind one proxy, the client is the last X-Forwarded-For address: each simulated
    # victim is its own client, so the per-client case-creation limit (30 an hour)
    # applies to each of them as it would to real people, not to the load generator.
    "TAKEBACK_PROXY_COUNT": "1",
    # Platforms here poll back to back (a real one polls every few seconds) and the
    # match benchmark sends as fast as the servers answer: the per-key rates would
    # refuse that with 429, which is the limit working, not what is measured.
    "TAKEBACK_THROTTLE_FEED": "1000000/min",
    "TAKEBACK_THROTTLE_FEEDBACK": "1000000/min",
    "TAKEBACK_THROTTLE_MATCH": "1000000/min",
    # Minutes of 50 victims at machine speed exceed a real hour's 50,000 files.
    "TAKEBACK_GLOBAL_FILES_PER_HOUR": "100000000",
}

_WITHDRAW_LINK = re.compile(
    r'href="/case/images/([0-9a-f-]{36})/withdraw/"[^<]*<span class="visually-hidden">\s*'
    r"([0-9a-f]{8})"
)


def random_pdq(rng: random.Random) -> str:
    """A PDQ value with 128 of 256 bits set, as tests.support.factories makes them.

    Repeated here because factories imports Django and the load generator runs without.
    """
    return f"{sum(1 << b for b in rng.sample(range(256), 128)):064x}"


def file_hashes(rng: random.Random) -> dict[str, str]:
    """The hashes of one made-up file: PDQ plus its two digests (plausible, distinct)."""
    payload = rng.randbytes(32)
    return {
        "pdq": random_pdq(rng),
        "md5": hashlib.md5(payload, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


@dataclass
class SubmittedFile:
    hashes: dict[str, str]
    active: bool = True


@dataclass
class VictimCase:
    """One case as its victim knows it: the files sent and which are still active."""

    files: list[SubmittedFile] = field(default_factory=list)
    withdrawn: bool = False

    def active_hashes(self) -> list[tuple[str, str]]:
        if self.withdrawn:
            return []
        return [(a, v) for f in self.files if f.active for a, v in f.hashes.items()]


class Victim:
    """One person on the victim's pages, with a browser's cookies and their own address."""

    def __init__(self, port: int, address: str, failures: list[str]) -> None:
        self.client = BrowserClient(port, forwarded_for=address)
        self.failures = failures
        self.requests = 0

    def _expect(self, what: str, status: int, wanted: int, body: Any = "") -> bool:
        self.requests += 1
        if status != wanted:
            self.failures.append(f"{what}: HTTP {status} (wanted {wanted}) {body!r:.200}")
            return False
        return True

    def start(self) -> bool:
        status, _, _ = self.client.request("GET", "/start/")
        if not self._expect("GET /start/", status, 200):
            return False
        status = self.client.form(
            "/start/", {"age": "adult", "subject": "pictured", "consent": "on"}
        )
        return self._expect("POST /start/", status, 302)

    @staticmethod
    def _payload(files: list[SubmittedFile]) -> dict[str, Any]:
        return {
            "items": [{"media_kind": "image", "pdq_quality": 90, "hashes": f.hashes} for f in files]
        }

    def submit(self, case: VictimCase, files: list[SubmittedFile]) -> bool:
        status, body = self.client.post_json("/submit/hashes/", self._payload(files))
        if self._expect("POST /submit/hashes/", status, 201, body):
            case.files.extend(files)
            return True
        return False

    def add(self, case: VictimCase, files: list[SubmittedFile]) -> bool:
        status, body = self.client.post_json("/case/add/hashes/", self._payload(files))
        if self._expect("POST /case/add/hashes/", status, 201, body):
            case.files.extend(files)
            return True
        return False

    def withdraw_file(self, case: VictimCase, file: SubmittedFile) -> bool:
        """Withdraw one file through the status page's link (found by its label)."""
        status, _, page = self.client.request("GET", "/case/status/")
        if not self._expect("GET /case/status/", status, 200):
            return False
        links = {label: item for item, label in _WITHDRAW_LINK.findall(page.decode())}
        item = links.get(file.hashes["sha256"][:8])
        if item is None:
            self.failures.append("status page: no withdraw link for a file of the case")
            return False
        status = self.client.form(f"/case/images/{item}/withdraw/", {})
        if self._expect("POST item withdraw", status, 302):
            file.active = False
            return True
        return False

    def withdraw_case(self, case: VictimCase) -> bool:
        status = self.client.form("/case/withdraw/", {})
        if self._expect("POST /case/withdraw/", status, 302):
            case.withdrawn = True
            return True
        return False


class RecordingClient(Client):
    """The toolkit's client, noting what it was served and every retry it needed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot_position: int | None = None
        self.snapshot_seqs: list[int] = []
        self.feed_seqs: list[int] = []
        self.pages = 0
        self.retries = 0

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        self.retries += 1
        super()._sleep(attempt, retry_after)

    def snapshot_lines(self) -> Iterator[dict[str, Any]]:
        self.snapshot_seqs = []
        for line in super().snapshot_lines():
            if line.get("type") == "snapshot":
                self.snapshot_position = int(line["position"])
            elif line.get("type") == "hash":
                self.snapshot_seqs.append(int(line["seq"]))
            yield line

    def snapshot_chunks(
        self, *, compress: bool = False, chunk_bytes: int = 1 << 20
    ) -> Iterator[bytes]:
        """The binary snapshot (sync's default): its positions, read once it has all come."""
        self.snapshot_seqs = []
        seen = []
        for chunk in super().snapshot_chunks(compress=compress, chunk_bytes=chunk_bytes):
            seen.append(chunk)
            yield chunk
        reader = snapshot_format.Reader()
        for records in reader.batches(seen):
            self.snapshot_seqs.extend(records["seq"].tolist())
        assert reader.header is not None
        self.snapshot_position = int(reader.header["position"])

    def feed(
        self, *, cursor: str | None, limit: int, etag: str | None = None
    ) -> FeedResponse | None:
        page = super().feed(cursor=cursor, limit=limit, etag=etag)
        if page is not None:
            self.pages += 1
            self.feed_seqs.extend(int(e["seq"]) for e in page.entries)
        return page


class Follower(threading.Thread):
    """A platform running `takeback-platform sync` over and over into its own replica."""

    def __init__(
        self,
        platform: dict[str, Any],
        port: int,
        db: Path,
        *,
        writes_done: threading.Event,
        page_size: int,
        poll: float,
        delay: float,
    ) -> None:
        super().__init__(daemon=True, name=f"follower-{platform['id']}")
        self.platform = platform
        self.db = db
        self.client = RecordingClient(f"http://127.0.0.1:{port}", platform["api_key"])
        self.writes_done = writes_done
        self.page_size = page_size
        self.poll = poll
        self.delay = delay
        self.syncs = 0
        self.error: BaseException | None = None
        self.rows: list[tuple[Any, ...]] = []

    def run(self) -> None:
        try:
            time.sleep(self.delay)
            with Store(self.db) as store:
                while not self.writes_done.is_set():
                    sync(store, self.client, page_size=self.page_size, progress=False)
                    self.syncs += 1
                    time.sleep(self.poll)
                # Every write has returned (and so committed): one more sync catches up.
                result = sync(store, self.client, page_size=self.page_size, progress=False)
                self.syncs += 1
                if not result.caught_up:
                    raise RuntimeError("final sync did not catch up")
                self.rows = store.dump()
        except BaseException as exc:
            self.error = exc

    def served_twice_or_out_of_order(self) -> list[str]:
        """What the wire showed: each position served once, in order, after the snapshot."""
        problems = []
        c = self.client
        if c.snapshot_position is None:
            return ["no snapshot was loaded"]
        if len(set(c.snapshot_seqs)) != len(c.snapshot_seqs):
            problems.append("a snapshot served a position twice")
        if any(seq > c.snapshot_position for seq in c.snapshot_seqs):
            problems.append("a snapshot served a position past its own")
        if any(b <= a for a, b in zip(c.feed_seqs, c.feed_seqs[1:], strict=False)):
            problems.append("the feed served a position twice or out of order")
        if c.feed_seqs and c.feed_seqs[0] <= c.snapshot_position:
            problems.append("the feed served a position the snapshot covered")
        return problems


@dataclass
class ConsistencyReport:
    seconds: float
    # When the last write returned; the rest of `seconds` is the platforms catching up.
    writes_seconds: float
    victims: int
    withdrawers: int
    platforms: int
    requests: int
    cases: int
    files: int
    hashes_active: int
    hashes_by_status: dict[str, int]
    syncs: int
    feed_pages: int
    feed_entries: int
    retries: int
    failures: list[str]
    # platform id -> {"lost": n, "extra": n, "stale": n, "wire": [...]}
    mismatches: dict[str, dict[str, Any]]
    # What the victims believe is active vs what the database says is active.
    ledger_missing: int
    ledger_extra: int

    def summary(self) -> str:
        return (
            f"{self.victims} victims + {self.withdrawers} withdrawing, {self.platforms} platforms,"
            f" {self.seconds:.1f} s ({self.writes_seconds:.1f} s of writes, then"
            f" {self.seconds - self.writes_seconds:.1f} s to catch up):"
            f" {self.requests} victim requests, {self.cases} cases,"
            f" {self.files} files; database {self.hashes_by_status}; {self.syncs} syncs,"
            f" {self.feed_pages} feed pages, {self.feed_entries} entries, {self.retries} retries;"
            f" failures {len(self.failures)}, platforms differing {len(self.mismatches)},"
            f" ledger missing {self.ledger_missing} / extra {self.ledger_extra}"
        )


def _compare(expected: list[list[Any]], rows: list[tuple[Any, ...]]) -> dict[str, int]:
    """How a replica's rows differ from the expected ones, by (algorithm, value, case, file).

    lost: expected, absent; extra: present, not expected; stale: present with another
    position, quality or kind than expected; duplicated: present more than once.
    """

    def key(row: Any) -> tuple[Any, ...]:
        return (row[0], row[1], row[4], row[5])

    want = {key(r): tuple(r) for r in expected}
    have: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        have.setdefault(key(row), []).append(tuple(row))
    return {
        "lost": len(want.keys() - have.keys()),
        "extra": len(have.keys() - want.keys()),
        "stale": sum(1 for k in want.keys() & have.keys() if set(have[k]) != {want[k]}),
        "duplicated": sum(len(found) - 1 for found in have.values()),
    }


def consistency_run(
    stack: Any,
    platforms: list[dict[str, Any]],
    tmp: Path,
    *,
    victims: int = 50,
    withdrawers: int = 5,
    seconds: float = 0.0,
    adds: int = 3,
    files_per_request: int = 4,
    files_per_case: int = 60,
    page_size: int = 100,
    poll: float = 0.3,
    seed: int = 16,
) -> ConsistencyReport:
    """Run the scenario on `stack` (its servers in turn) and compare every replica.

    Each victim opens a case and adds `adds` times; with `seconds`, they keep adding
    until then, starting a new case (as a new person) when one reaches
    `files_per_case`. Each withdrawer shares a file with one victim (the same image
    in two cases), then withdraws: even ones the whole case, odd ones file by file
    with an add in between.
    """
    ports = stack.ports
    failures: list[str] = []
    lock = threading.Lock()
    cases: list[VictimCase] = []
    writes_done = threading.Event()
    requests = Counter[str]()
    shared = [
        [SubmittedFile(file_hashes(random.Random(f"{seed}-shared-{w}")))]
        for w in range(withdrawers)
    ]
    started = time.monotonic()
    deadline = started + seconds

    def files(rng: random.Random, n: int) -> list[SubmittedFile]:
        return [SubmittedFile(file_hashes(rng)) for _ in range(n)]

    def new_case(victim: Victim, rng: random.Random, first: list[SubmittedFile]) -> VictimCase:
        case = VictimCase()
        if victim.start() and victim.submit(case, first):
            with lock:
                cases.append(case)
        return case

    def victim_run(n: int) -> None:
        rng = random.Random(f"{seed}-victim-{n}")
        person = 0
        while True:
            address = f"127.{1 + n // 250}.{n % 250 + 1}.{person % 250 + 1}"
            victim = Victim(ports[(n + person) % len(ports)], address, failures)
            first = files(rng, files_per_request)
            if person == 0 and n < withdrawers:
                # The same image as withdrawer n's first file, in this victim's own case.
                first = [SubmittedFile(dict(shared[n][0].hashes)), *first[1:]]
            case = new_case(victim, rng, first)
            done = 0
            while case.files and len(case.files) + files_per_request <= files_per_case:
                if done >= adds and time.monotonic() >= deadline:
                    break
                time.sleep(rng.uniform(0, 0.05))
                if not victim.add(case, files(rng, files_per_request)):
                    break
                done += 1
            with lock:
                requests["victim"] += victim.requests
            person += 1
            if not case.files or time.monotonic() >= deadline:
                return

    def withdrawer_run(w: int) -> None:
        rng = random.Random(f"{seed}-withdrawer-{w}")
        person = 0
        while True:
            victim = Victim(
                ports[(w + person) % len(ports)], f"127.200.{w + 1}.{person + 1}", failures
            )
            first = shared[w] if person == 0 else files(rng, 1)
            case = new_case(victim, rng, [SubmittedFile(dict(f.hashes)) for f in first])
            ok = bool(case.files)
            for _ in range(2):
                time.sleep(rng.uniform(0.2, 0.6))  # platforms see the case before it goes
                ok = ok and victim.add(case, files(rng, 2))
            if ok and w % 2 == 0:
                victim.withdraw_case(case)
            elif ok:
                victim.withdraw_file(case, case.files[0])  # at first, a file another case has
                time.sleep(rng.uniform(0.1, 0.3))
                if victim.add(case, files(rng, 1)):
                    victim.withdraw_file(case, case.files[1])
            with lock:
                requests["victim"] += victim.requests
            person += 1
            if not ok or time.monotonic() >= deadline or person >= 250:
                return

    followers = [
        Follower(
            platform,
            ports[i % len(ports)],
            tmp / f"replica-{platform['id']}.sqlite3",
            writes_done=writes_done,
            page_size=page_size,
            poll=poll,
            delay=0.05 * i,
        )
        for i, platform in enumerate(platforms)
    ]
    writers = [threading.Thread(target=victim_run, args=(n,)) for n in range(victims)]
    writers += [threading.Thread(target=withdrawer_run, args=(w,)) for w in range(withdrawers)]
    for thread in [*followers, *writers]:
        thread.start()
    for thread in writers:
        thread.join()
    writes_done.set()
    writes_seconds = time.monotonic() - started
    for follower in followers:
        follower.join(timeout=600)
    elapsed = time.monotonic() - started

    expected = stack.replicas_expected()
    mismatches: dict[str, dict[str, Any]] = {}
    for follower in followers:
        key = str(follower.platform["id"])
        if follower.error is not None or follower.is_alive():
            mismatches[key] = {"error": repr(follower.error or "still running")}
            continue
        found = _compare(expected["platforms"][key], follower.rows)
        wire = follower.served_twice_or_out_of_order()
        if any(found.values()) or wire:
            mismatches[key] = {**found, "wire": wire}

    ledger = Counter(h for case in cases for h in case.active_hashes())
    database = Counter((a, v) for a, v in expected["active"])
    return ConsistencyReport(
        seconds=elapsed,
        writes_seconds=writes_seconds,
        victims=victims,
        withdrawers=withdrawers,
        platforms=len(platforms),
        requests=requests["victim"],
        cases=len(cases),
        files=sum(len(c.files) for c in cases),
        hashes_active=len(expected["active"]),
        hashes_by_status=expected["by_status"],
        syncs=sum(f.syncs for f in followers),
        feed_pages=sum(f.client.pages for f in followers),
        feed_entries=sum(len(f.client.feed_seqs) for f in followers),
        retries=sum(f.client.retries for f in followers),
        failures=failures,
        mismatches=mismatches,
        ledger_missing=sum((ledger - database).values()),
        ledger_extra=sum((database - ledger).values()),
    )
