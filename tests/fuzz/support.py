"""Shared pieces of the fuzz suite: a hard time limit per input and a tally of outcomes.

Every input runs under `time_limit` (SIGALRM, HANG_SECONDS): an input that takes
longer is a hang and fails the test. `tally` counts what each target saw
(inputs, 4xx, 5xx, hangs, bypasses, slowest) and the session writes it to
test-artifacts/fuzz-summary.json, the figures the issue asks for.
"""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HANG_SECONDS = 10

tally: dict[str, dict[str, Any]] = defaultdict(
    lambda: {"inputs": 0, "4xx": 0, "5xx": 0, "hangs": 0, "bypasses": 0, "slowest_s": 0.0}
)


class Hang(BaseException):  # not Exception: nothing on the way may swallow it
    pass


@contextmanager
def time_limit(target: str, seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Count one input of `target`; raise Hang if it runs longer than `seconds`."""

    def alarm(signum: int, frame: Any) -> None:
        tally[target]["hangs"] += 1
        raise Hang(f"{target}: an input ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        entry = tally[target]
        entry["inputs"] += 1
        entry["slowest_s"] = round(max(entry["slowest_s"], time.monotonic() - started), 3)


def record_status(target: str, status: int) -> None:
    if 400 <= status < 500:
        tally[target]["4xx"] += 1
    elif status >= 500:
        tally[target]["5xx"] += 1


def summary_json() -> str:
    return json.dumps(dict(sorted(tally.items())), indent=2)
