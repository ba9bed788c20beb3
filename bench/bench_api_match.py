"""Batch match: warm in-process index vs cold index build vs a PostgreSQL scan, one run.

Creates a throw-away test database, inserts N active PDQ hashes and times, for a batch
of Q query hashes (half of them near stored ones):

* warm: `hashes_match` with the in-process `HashIndex` already up to date (the steady
  state: each batch only applies the feed changes since the last one);
* cold: the same call right after the index was dropped (first request of a process);
* incremental: a warm call after 1,000 new hashes were committed;
* the bare `hashing.index.HashIndex` on the same hashes (the index alone, no database);
* postgres (PostgreSQL only): one `bit_count(stored # query)` scan per query hash in SQL.

Usage:
    scripts/with-services .venv/bin/python bench/bench_api_match.py \
        [--hashes 200000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hashes", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--pg-queries", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import setup_test_environment

    from portal.cases.models import SubmittedHash
    from portal.cases.positions import feed_positions_allocate
    from portal.platforms import matching
    from portal.platforms.services import platform_create
    from tests.support.factories import case_with_items, random_pdq

    def insert(case, values):
        with transaction.atomic():
            rows = [
                SubmittedHash(case=case, algorithm="pdq", value=v, quality=90, media_kind="image")
                for v in values
            ]
            for row, seq in zip(rows, feed_positions_allocate(count=len(rows)), strict=True):
                row.feed_seq = seq
            SubmittedHash.objects.bulk_create(rows, batch_size=5000)

    def near(value: str, rng: random.Random) -> str:
        number = int(value, 16)
        for bit in rng.sample(range(256), 8):
            number ^= 1 << bit
        return f"{number:064x}"

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        platform = platform_create(name="Bench").platform
        case = case_with_items(1).case
        rng = random.Random(5)
        stored = [random_pdq(rng) for _ in range(args.hashes)]
        insert(case, stored)
        queries = [
            matching.MatchQuery(
                algorithm="pdq",
                value=near(rng.choice(stored), rng) if i % 2 else random_pdq(rng),
            )
            for i in range(args.queries)
        ]

        def timed(label: str, count: int, call) -> float:
            started = time.perf_counter()
            result = call()
            elapsed = time.perf_counter() - started
            hits = sum(len(r.matches) for r in result) if isinstance(result, list) else result
            print(
                f"{label:<34} {elapsed * 1000:>9.1f} ms  {elapsed / count * 1e6:>9.1f} µs/hash"
                f"  matches={hits}"
            )
            return elapsed

        print(f"database: {connection.vendor}; {args.hashes} stored PDQ hashes")
        matching.match_indexes_reset()
        cold = timed(
            f"cold (index build + {args.queries})",
            args.queries,
            lambda: matching.hashes_match(platform=platform, queries=queries),
        )
        warm = timed(
            f"warm ({args.queries} queries)",
            args.queries,
            lambda: matching.hashes_match(platform=platform, queries=queries),
        )
        insert(case, [random_pdq(rng) for _ in range(1000)])
        timed(
            "incremental (+1000 rows, warm)",
            args.queries,
            lambda: matching.hashes_match(platform=platform, queries=queries),
        )
        print(f"cold / warm: {cold / warm:.1f}x")
        from hashing.index import HashIndex

        library = HashIndex("pdq")
        library.add_many(enumerate(stored))
        bare = timed(
            f"hashing.index.HashIndex alone ({args.queries})",
            args.queries,
            lambda: sum(len(library.query(q.value, 31)) for q in queries),
        )
        print(f"warm hashes_match / bare index per query hash: {warm / bare:.1f}x")
        if connection.vendor == "postgresql":
            sql = (
                "SELECT id, bit_count(('x' || value)::bit(256) # ('x' || %s)::bit(256)) AS d "
                "FROM cases_submittedhash WHERE algorithm = 'pdq' AND status = 'active' "
                "AND bit_count(('x' || value)::bit(256) # ('x' || %s)::bit(256)) <= 31"
            )

            def pg_scan() -> int:
                hits = 0
                with connection.cursor() as cursor:
                    for q in queries[: args.pg_queries]:
                        cursor.execute(sql, [q.value, q.value])
                        hits += len(cursor.fetchall())
                return hits

            pg = timed(f"postgres scan ({args.pg_queries} queries)", args.pg_queries, pg_scan)
            per_pg = pg / args.pg_queries
            per_warm = warm / args.queries
            print(f"postgres / warm per query hash: {per_pg / per_warm:.0f}x")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
