"""Batch match over HTTP under load (issue 16): locust against the production stack.

Starts the stack itself (tests/support/stack.py: gunicorn with production settings, a
fresh database on the PostgreSQL of scripts/with-services, Redis, a real Celery worker),
seeds N active PDQ hashes, registers platforms with keys, then for batches of 1, 100 and
1,000 hashes (half near a stored hash, half random):

* baseline: one client, one request at a time, for --baseline-seconds, every answer
  parsed and checked (each near query finds its stored hash at its distance);
* locust: --users platforms sending batches back to back for --seconds (headless,
  FastHttpUser), no error allowed (any failed request fails the run);
* for scale, the bare `hashing.index.HashIndex` on the same hashes in this process.

Throughput is hashes/s (requests/s x batch); latency p50/p99 per request. The servers
run with the load settings of tests/support/load.py (LOAD_ENV: the per-key match rate
of 120 a minute would refuse the run). Figures move with the machine's load; the
ratios to the baseline measured in the same run are what to compare.

Usage:
    scripts/with-services .venv/bin/python bench/bench_load.py \
        [--hashes 100000] [--seconds 60] [--users 6] [--workers 2] [--batches 1 100 1000]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.load import LOAD_ENV, random_pdq  # noqa: E402
from tests.support.stack import BIN, Stack  # noqa: E402

PDQ_THRESHOLD = 31


def near(value: str, rng: random.Random, bits: int) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def make_queries(stored: list[str], count: int, seed: int) -> list[tuple[str, str | None, int]]:
    """(query, the stored hash it was made from or None, bits moved), half of each."""
    rng = random.Random(seed)
    queries: list[tuple[str, str | None, int]] = []
    for n in range(count):
        if n % 2:
            origin = rng.choice(stored)
            bits = rng.randint(0, PDQ_THRESHOLD)
            queries.append((near(origin, rng, bits), origin, bits))
        else:
            queries.append((random_pdq(rng), None, 0))
    return queries


def body(values: list[str]) -> str:
    return json.dumps({"hashes": [{"algorithm": "pdq", "value": v} for v in values]})


def post(port: int, key: str, payload: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(
            "POST",
            "/api/v1/match",
            body=payload.encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def baseline(
    port: int, key: str, queries: list[tuple[str, str | None, int]], batch: int, seconds: float
) -> dict[str, float]:
    """One request at a time; every answer checked against what the query was made from."""
    latencies: list[float] = []
    offset = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or len(latencies) < 3:
        chunk = [queries[(offset + i) % len(queries)] for i in range(batch)]
        offset += batch
        t0 = time.perf_counter()
        status, raw = post(port, key, body([q for q, _, _ in chunk]))
        latencies.append(time.perf_counter() - t0)
        if status != 200:
            raise SystemExit(f"baseline: HTTP {status}: {raw[:300]!r}")
        results = json.loads(raw)["results"]
        for (value, origin, bits), result in zip(chunk, results, strict=True):
            found = {(m["value"], m["distance"]) for m in result["matches"]}
            if result["value"] != value or (origin is not None and (origin, bits) not in found):
                raise SystemExit(f"baseline: wrong answer for {value}: {result}")
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "hashes_per_s": len(latencies) * batch / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def locust_run(
    port: int, keys: list[str], bodies: list[str], batch: int, users: int, seconds: int, tmp: Path
) -> dict[str, Any]:
    bodies_file, keys_file = tmp / f"bodies-{batch}.json", tmp / "keys.json"
    bodies_file.write_text(json.dumps(bodies))
    keys_file.write_text(json.dumps(keys))
    prefix = tmp / f"locust-{batch}"
    done = subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "bench" / "locustfile_match.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env={
            **os.environ,
            "TAKEBACK_BENCH_BODIES": str(bodies_file),
            "TAKEBACK_BENCH_KEYS": str(keys_file),
            "TAKEBACK_BENCH_BATCH": str(batch),
        },
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    stats_file = Path(f"{prefix}_stats.csv")
    if not stats_file.exists():
        raise SystemExit(f"locust wrote no figures:\n{done.stdout}\n{done.stderr}")
    with stats_file.open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    failures_file = Path(f"{prefix}_failures.csv")
    failures = failures_file.read_text() if failures_file.exists() else ""
    requests = int(row["Request Count"])
    return {
        "requests": requests,
        "failures": int(row["Failure Count"]),
        "failure_text": failures,
        "hashes_per_s": float(row["Requests/s"]) * batch,
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
    }


def index_alone(stored: list[str], queries: list[tuple[str, str | None, int]]) -> float:
    """Single `query` calls/s of the bare index on one core (no HTTP, no database)."""
    from hashing.index import HashIndex

    index = HashIndex("pdq")
    index.add_many(enumerate(stored))
    values = [q for q, _, _ in queries]
    index.query(values[0], PDQ_THRESHOLD)
    started = time.perf_counter()
    for value in values:
        index.query(value, PDQ_THRESHOLD)
    return len(values) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=100_000, help="stored PDQ hashes")
    parser.add_argument("--seconds", type=int, default=60, help="locust run per batch size")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=6, help="concurrent locust users")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--platforms", type=int, default=6, help="platforms (keys) sending")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--queries", type=int, default=20_000, help="distinct query hashes")
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        raise SystemExit("needs PostgreSQL and Redis: run it inside scripts/with-services")

    tmp = Path(tempfile.mkdtemp(prefix="takeback-bench-load-"))
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores, shared machine)")
    with Stack(
        tmp,
        database_url=database_url,
        redis_url=redis_url,
        servers=1,
        workers=args.workers,
        env=LOAD_ENV,
    ) as stack:
        port = stack.ports[0]
        keys = [p["api_key"] for p in stack.platforms_create(args.platforms)]
        t0 = time.perf_counter()
        stored = stack.hashes_seed(args.hashes)
        print(f"seeded {len(stored):,} active PDQ hashes in {time.perf_counter() - t0:.1f} s")
        queries = make_queries(stored, args.queries, seed=16)
        # Each worker process loads its index on its first request; let them all do so.
        t0 = time.perf_counter()
        for _ in range(4 * args.workers):
            status, raw = post(port, keys[0], body([queries[0][0]]))
            assert status == 200, raw[:300]
        print(f"warm-up (each worker's index loaded): {time.perf_counter() - t0:.1f} s")

        rows = []
        for batch in args.batches:
            base = baseline(port, keys[0], queries, batch, args.baseline_seconds)
            bodies = [
                body([queries[(start + i) % len(queries)][0] for i in range(batch)])
                for start in range(0, min(len(queries), max(batch, 1) * 200), batch)
            ]
            load = locust_run(port, keys, bodies, batch, args.users, args.seconds, tmp)
            rows.append((batch, base, load))
            print(
                f"batch {batch:>5}: loop {base['hashes_per_s']:>9,.0f} hashes/s"
                f" p50 {base['p50_ms']:.0f} ms p99 {base['p99_ms']:.0f} ms |"
                f" locust {load['hashes_per_s']:>9,.0f} hashes/s p50 {load['p50_ms']:.0f} ms"
                f" p99 {load['p99_ms']:.0f} ms, {load['requests']} requests,"
                f" {load['failures']} errors",
                flush=True,
            )
        alone = index_alone(stored, queries)
        print(f"load average at end: {os.getloadavg()[0]:.1f}")

    print()
    print(
        f"{len(stored):,} stored PDQ hashes; gunicorn {args.workers} workers (gthread), "
        f"{args.users} locust users, {args.seconds} s each; baseline: one request at a time"
    )
    print(
        "| batch | loop hashes/s | loop p50 / p99 ms | locust hashes/s | x loop "
        "| p50 / p99 ms | requests | errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for batch, base, load in rows:
        print(
            f"| {batch:,} | {base['hashes_per_s']:,.0f} | {base['p50_ms']:.0f} / "
            f"{base['p99_ms']:.0f} | **{load['hashes_per_s']:,.0f}** | "
            f"{load['hashes_per_s'] / base['hashes_per_s']:.2f}x | {load['p50_ms']:.0f} / "
            f"{load['p99_ms']:.0f} | {load['requests']:,} | {load['failures']} |"
        )
    print(f"bare HashIndex, single queries, one core, same hashes: {alone:,.0f} hashes/s")
    best = max(load["hashes_per_s"] for _, _, load in rows)
    print(f"best HTTP throughput / bare index: {best / alone:.2f}x")
    errors = sum(load["failures"] for _, _, load in rows)
    if errors:
        for _, _, load in rows:
            print(load["failure_text"])
        raise SystemExit(f"{errors} requests failed under load")
    print("no errors")


if __name__ == "__main__":
    main()
