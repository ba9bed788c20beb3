"""Load consistency, long form (issue 16): minutes of victims and platforms at once.

The scenario of tests/test_load_consistency.py (tests/support/load.py), run for
--seconds instead of a few requests each: 50 victims submit through the victim's JSON
endpoints and keep adding files to their cases (a new case, as a new person, when one
reaches --files-per-case), 20 platforms follow the feed with the platform toolkit
(snapshot, then feed pages by cursor, acknowledged) into their own SQLite replicas, 5
victims withdraw files and whole cases; all on gunicorn servers with production
settings, PostgreSQL, Redis and a real Celery worker that this script starts. When the
writes stop, every replica is compared row by row with the database (no lost,
duplicated or stale entry) and the database with what the victims were told. Exits
non-zero on any difference or failed request.

Usage:
    scripts/with-services .venv/bin/python bench/bench_consistency.py \
        [--seconds 300] [--victims 50] [--platforms 20] [--withdrawers 5] [--servers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.load import LOAD_ENV, consistency_run  # noqa: E402
from tests.support.stack import Stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="how long victims write")
    parser.add_argument("--victims", type=int, default=50)
    parser.add_argument("--platforms", type=int, default=20)
    parser.add_argument("--withdrawers", type=int, default=5)
    parser.add_argument("--servers", type=int, default=2, help="gunicorn servers")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server")
    parser.add_argument("--files-per-request", type=int, default=4)
    parser.add_argument("--files-per-case", type=int, default=60)
    parser.add_argument("--page-size", type=int, default=100, help="feed page size")
    parser.add_argument("--poll", type=float, default=0.3, help="seconds between syncs")
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        raise SystemExit("needs PostgreSQL and Redis: run it inside scripts/with-services")

    tmp = Path(tempfile.mkdtemp(prefix="takeback-bench-consistency-"))
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores, shared machine)")
    started = time.monotonic()
    with Stack(
        tmp,
        database_url=database_url,
        redis_url=redis_url,
        servers=args.servers,
        workers=args.workers,
        env=LOAD_ENV,
    ) as stack:
        platforms = stack.platforms_create(args.platforms)
        print(f"stack up, {len(platforms)} platforms: {time.monotonic() - started:.1f} s")
        report = consistency_run(
            stack,
            platforms,
            tmp,
            victims=args.victims,
            withdrawers=args.withdrawers,
            seconds=args.seconds,
            files_per_request=args.files_per_request,
            files_per_case=args.files_per_case,
            page_size=args.page_size,
            poll=args.poll,
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(report.summary())
    print(
        f"victim requests/s: {report.requests / report.seconds:.1f}; "
        f"feed entries applied/s (all platforms): {report.feed_entries / report.seconds:,.0f}"
    )
    for failure in report.failures[:20]:
        print("failed:", failure)
    for platform, difference in sorted(report.mismatches.items()):
        print(f"platform {platform} differs: {difference}")
    if report.failures or report.mismatches or report.ledger_missing or report.ledger_extra:
        raise SystemExit("inconsistent (see above)")
    print(
        f"consistent: all {report.platforms} replicas equal the database "
        f"({report.hashes_active:,} active hashes, plus each platform's decoys)"
    )


if __name__ == "__main__":
    main()
