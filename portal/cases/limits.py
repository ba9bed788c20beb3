"""Quotas on what goes into the list: files per case, files added per case an hour, and a
global rate of files an hour (issue 9: a stranger must not fill the list with junk).

Files per submission are capped by `MAX_ITEMS_PER_SUBMISSION` (services.py); new cases
per client an hour by `throttling.case_creation_allowed` (the security engineer's
module; it counts before the case is made).

The rule here: **check first, spend only once the write commits**. A submission refused
for any reason (a bad hash, a closed case, a quota) spends nothing, so a victim whose
upload failed can try again at once. Counters live in the cache (Redis in production)
in fixed one-hour windows keyed by the window's number; under concurrency two adds may
both pass a check that only one of them should, so a quota can be overshot by one
submission at most (the per-case total is exact: it is counted in the database under the
case's row lock).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from portal.exceptions import ApplicationError

_PREFIX = "tb:limits"
WINDOW_SECONDS = 60 * 60


def _window() -> int:
    return int(time.time()) // WINDOW_SECONDS


def _keys(*, case_id: int) -> dict[str, str]:
    window = _window()
    return {
        "case": f"{_PREFIX}:case:{case_id}:{window}",
        "global": f"{_PREFIX}:global:{window}",
    }


def files_add_check(*, case_id: int, files: int, files_stored: int) -> None:
    """Raise ApplicationError (code `limit_reached`) if adding `files` breaks a quota."""
    if files_stored + files > settings.TAKEBACK_CASE_MAX_FILES:
        room = max(0, settings.TAKEBACK_CASE_MAX_FILES - files_stored)
        raise ApplicationError(
            f"A case holds at most {settings.TAKEBACK_CASE_MAX_FILES} files; this one has room "
            f"for {room} more. Start a new case for the others.",
            code="limit_reached",
            extra={"limit": "files_per_case", "room": room},
        )
    keys = _keys(case_id=case_id)
    counts = cache.get_many(list(keys.values()))
    per_case = counts.get(keys["case"], 0)
    if per_case + files > settings.TAKEBACK_CASE_FILES_PER_HOUR:
        raise ApplicationError(
            f"At most {settings.TAKEBACK_CASE_FILES_PER_HOUR} files can be added to a case in "
            f"an hour; {max(0, settings.TAKEBACK_CASE_FILES_PER_HOUR - per_case)} more now. "
            "Nothing was added; please try again later.",
            code="limit_reached",
            extra={"limit": "files_per_case_per_hour"},
        )
    if counts.get(keys["global"], 0) + files > settings.TAKEBACK_GLOBAL_FILES_PER_HOUR:
        raise ApplicationError(
            "We are receiving an unusual number of files right now. Nothing was added; "
            "please try again in an hour.",
            code="limit_reached",
            extra={"limit": "global_files_per_hour"},
        )


def files_add_spend(*, case_id: int, files: int) -> None:
    """Count `files` against the quotas once the current transaction commits."""

    def spend() -> None:
        for key in _keys(case_id=case_id).values():
            cache.add(key, 0, timeout=2 * WINDOW_SECONDS)
            try:
                cache.incr(key, files)
            except ValueError:  # expired between add and incr
                cache.set(key, files, timeout=2 * WINDOW_SECONDS)

    transaction.on_commit(spend)
