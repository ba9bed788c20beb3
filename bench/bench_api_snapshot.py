"""Snapshot memory: peak Python memory while streaming the snapshot, for growing tables.

Creates a throw-away test database (PostgreSQL under `scripts/with-services`,
else SQLite in memory), inserts N active PDQ hashes, streams
GET /api/v1/hashes/snapshot through Django's test client, and prints the rows
served, the compressed size, the peak traced Python memory (tracemalloc) and the
ratio to the smallest run. Flat memory means the ratio stays near 1 while N grows.

Usage:  scripts/with-services .venv/bin/python bench/bench_api_snapshot.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from portal.cases.models import SubmittedHash
    from portal.cases.positions import feed_positions_allocate
    from portal.platforms.services import platform_create
    from tests.support.factories import case_with_items, random_pdq

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        platform = platform_create(name="Bench")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {platform.api_key.raw}")
        case = case_with_items(1).case
        rng = random.Random(1)
        total = SubmittedHash.objects.count()
        print(f"database: {connection.vendor}")
        print(
            f"{'hashes':>9} {'rows':>9} {'gzip KiB':>9} {'rows/s':>8} {'peak KiB':>9} {'ratio':>6}"
        )
        first_peak = None
        for size in sorted(args.sizes):
            with transaction.atomic():
                missing = size - total
                rows = [
                    SubmittedHash(
                        case=case,
                        algorithm="pdq",
                        value=random_pdq(rng),
                        quality=90,
                        media_kind="image",
                    )
                    for _ in range(missing)
                ]
                for row, seq in zip(rows, feed_positions_allocate(count=missing), strict=True):
                    row.feed_seq = seq
                SubmittedHash.objects.bulk_create(rows, batch_size=5000)
                total = size
            del rows

            def download() -> tuple[int, int]:
                response = client.get("/api/v1/hashes/snapshot")
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                lines = compressed = 0
                for chunk in response.streaming_content:
                    compressed += len(chunk)
                    lines += decompressor.decompress(chunk).count(b"\n")
                return lines, compressed

            # Speed without tracing (tracemalloc slows Python down several times)...
            started = time.perf_counter()
            lines, compressed = download()
            elapsed = time.perf_counter() - started
            # ...and peak memory with it.
            tracemalloc.start()
            download()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            first_peak = first_peak or peak
            print(
                f"{size:>9} {lines - 2:>9} {compressed / 1024:>9.0f} {(lines - 2) / elapsed:>8.0f} "
                f"{peak / 1024:>9.0f} {peak / first_peak:>6.2f}"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
