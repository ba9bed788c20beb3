"""``feedback``: tell Takeback what you did about listed hashes, without writing JSON.

The hashes come from ``check``'s output (its JSON lines, from a file or stdin: every
match names the *listed* value, which is what feedback must name; a rotated upload's
own hash is not in the list) or are given as ``algorithm:value``. They are sent to
``POST /api/v1/feedback`` in batches the API accepts; the answer says, per hash,
``recorded`` or ``unknown_hash`` (not in the list: nothing was stored), and the summary
counts each.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from hashing.algorithms import SHARED_ALGORITHMS
from hashing.distance import normalise_hex
from hashing.errors import InvalidHash
from hashing.platform.client import Client

# Command-line names -> the API's outcomes.
OUTCOMES: dict[str, str] = {
    "blocked": "blocked",
    "pending-review": "matched_pending_review",
    "not-violating": "not_violating",
}
FEEDBACK_PATH = "/api/v1/feedback"
# The API's MAX_FEEDBACK_BATCH.
BATCH = 1_000


class FeedbackError(Exception):
    pass


def reports_from(
    sources: Sequence[str], *, outcome: str, stdin: TextIO | None = None
) -> list[dict[str, str]]:
    """Feedback reports for ``algorithm:value`` arguments and files of ``check`` results.

    ``-`` reads ``check``'s output from ``stdin``; an existing file is read as ``check``
    output too. Each listed hash is reported once.
    """
    if outcome not in OUTCOMES:
        raise FeedbackError(f"outcome must be one of {', '.join(OUTCOMES)}")
    if not sources:
        raise FeedbackError("give hashes as algorithm:value, or - to read check's output")
    pairs: list[tuple[str, str]] = []
    for source in sources:
        if source == "-":
            if stdin is None:
                raise FeedbackError("- needs check's output on stdin")
            pairs.extend(_from_check_lines(stdin, "stdin"))
        elif os.path.isfile(source):
            with open(source, encoding="utf-8") as handle:
                pairs.extend(_from_check_lines(handle, source))
        else:
            pairs.append(_parse_hash(source))
    unique = list(dict.fromkeys(pairs))
    if not unique:
        raise FeedbackError("nothing to report: the check results hold no match")
    return [{"algorithm": a, "value": v, "outcome": OUTCOMES[outcome]} for a, v in unique]


def _parse_hash(text: str) -> tuple[str, str]:
    algorithm, _, value = text.partition(":")
    algorithm = algorithm.strip().lower()
    if algorithm not in SHARED_ALGORITHMS:
        raise FeedbackError(
            f"{text!r}: give algorithm:value, the algorithm one of {', '.join(SHARED_ALGORITHMS)}"
        )
    try:
        return algorithm, normalise_hex(algorithm, value)
    except InvalidHash as exc:
        raise FeedbackError(f"{text!r}: {exc.message}") from exc


def _from_check_lines(lines: Iterable[str], name: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            result = json.loads(line)
            if not isinstance(result, dict):
                raise TypeError
            # An error line (a file check could not hash) has nothing to report.
            matches = result.get("matches") or []
            for m in matches:
                if m["algorithm"] == "vpdq":
                    # A listed video matched under vPDQ: its MD5 names it.
                    if m.get("md5"):
                        pairs.append(("md5", str(m["md5"])))
                else:
                    pairs.append((str(m["algorithm"]), str(m["value"])))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise FeedbackError(f"{name} line {number} is not a check result") from exc
    return pairs


def feedback_send(client: Client, reports: list[dict[str, str]]) -> dict[str, Any]:
    """Send the reports; returns the results and how many of each status."""
    results: list[dict[str, Any]] = []
    for start in range(0, len(reports), BATCH):
        answer = client.post(FEEDBACK_PATH, {"feedback": reports[start : start + BATCH]})
        results.extend(answer.get("results") or [])
    counts: dict[str, int] = {}
    for result in results:
        counts[str(result.get("status"))] = counts.get(str(result.get("status")), 0) + 1
    return {"summary": counts, "results": results}
