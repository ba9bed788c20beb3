"""The exact Hamming index (`hashing.index.HashIndex`) against FAISS, measured in one run.

For each algorithm (PDQ within 31 of 256 bits; pHash within 10 of 64, which stands for
dHash too: same width, same code path) and each size N, on seeded random hashes:

* `HashIndex` (multi-index hashing, numba; `hashing/index.py`);
* FAISS `IndexBinaryMultiHash` with the layout python-threatexchange/HMA use for PDQ
  (16 chunks of 16 bits, `nflip = 31 // 16 = 1`; for 64 bits 4 chunks of 16, `nflip = 2`,
  both exact at the threshold);
* FAISS `IndexBinaryFlat` (brute force; its range search is the ground truth).

Printed per index: build time from arrays, index memory (resident-set growth of the
process that built it, and its peak growth while building), single `query` calls on one
core (wall and CPU time; q/s), a batch on all cores (`query_many` / one FAISS
`range_search` call with `omp_set_num_threads(cores)`), and recall against brute force
over the queries (half are stored hashes moved by 0..threshold bits, half random).
Each index is built in its own forked process so memory figures do not mix. Ratios are
against the FAISS indexes measured in the same run. Single-query loops stop after
``--seconds`` (brute force at 10 M takes ~40 ms a query).

Usage:
    .venv/bin/pip install -e '.[bench]'      # faiss-cpu (bench only)
    .venv/bin/python bench/bench_index.py [--sizes 100000 1000000] [--10m]
        [--algorithms pdq phash] [--queries 2000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

THRESHOLDS = {"pdq": 31, "phash": 10}
BYTES = {"pdq": 32, "phash": 8}
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def make_data(algorithm: str, size: int, queries: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    width = BYTES[algorithm]
    hashes = rng.integers(0, 256, (size, width), dtype=np.uint8)
    threshold = THRESHOLDS[algorithm]
    near = queries // 2
    picks = rng.integers(0, size, near)
    planted = hashes[picks].copy()
    bits = np.unpackbits(planted, axis=1)
    for row, flips in enumerate(rng.integers(0, threshold + 1, near)):
        where = rng.choice(width * 8, int(flips), replace=False)
        bits[row, where] ^= 1
    needles = np.concatenate(
        [np.packbits(bits, axis=1), rng.integers(0, 256, (queries - near, width), dtype=np.uint8)]
    )
    return {"hashes": hashes, "needles": needles[rng.permutation(queries)]}


def timed_loop(call: Any, items: list[Any], seconds: float) -> tuple[float, float, int]:
    """(wall q/s, CPU q/s, count) over single calls, stopping after ``seconds``."""
    start, cpu = time.perf_counter(), time.process_time()
    done = 0
    for item in items:
        call(item)
        done += 1
        if done % 16 == 0 and time.perf_counter() - start > seconds:
            break
    wall = time.perf_counter() - start
    return done / wall, done / (time.process_time() - cpu), done


def run_ours(data: dict[str, Any], algorithm: str, seconds: float, cores: int) -> dict[str, Any]:
    import hashing.index as index_module
    from hashing.index import HashIndex

    hashes, needles = data["hashes"], data["needles"]
    threshold = THRESHOLDS[algorithm]
    ids = np.arange(len(hashes), dtype=np.int64)
    # Load the compiled kernels (numba's on-disk cache) outside the timed build.
    warm = HashIndex.from_arrays(algorithm, ids[:5000], hashes[:5000])
    warm.query_many(needles[:64], threshold)
    warm.add(-1, bytes(needles[0]).hex())
    warm.remove(-1)
    before = rss_bytes()
    start = time.perf_counter()
    index = HashIndex.from_arrays(algorithm, ids, hashes)
    build = time.perf_counter() - start
    memory = rss_bytes() - before
    peak = peak_rss_bytes() - before
    hexes = [bytes(row).hex() for row in needles]
    index.query(hexes[0], threshold)
    wall, cpu, _ = timed_loop(lambda h: index.query(h, threshold), hexes, seconds)
    start = time.perf_counter()
    batch = index.query_many(needles, threshold)
    batch_qps = len(needles) / (time.perf_counter() - start)
    results = [[pair[0] for pair in found] for found in batch]

    # Adds and removes: 1% new rows (PDQ: into the tables; 64-bit: a delta the next
    # query merges), then as many removals.
    extra = np.random.default_rng(1).integers(
        0, 256, (max(1, len(hashes) // 100), hashes.shape[1]), dtype=np.uint8
    )
    extra_hex = [bytes(row).hex() for row in extra]
    start = time.perf_counter()
    for offset, value in enumerate(extra_hex):
        index.add(len(hashes) + offset, value)
    adds = len(extra_hex) / (time.perf_counter() - start)
    start = time.perf_counter()
    index.query(hexes[0], threshold)
    merge = time.perf_counter() - start
    start = time.perf_counter()
    for offset in range(len(extra_hex)):
        index.remove(offset)
    removes = len(extra_hex) / (time.perf_counter() - start)
    tables = index._tables
    plan = "" if tables is None else " ".join(_chunk_label(c) for c in tables.plan)
    return {
        "name": "HashIndex",
        "build": build,
        "memory": memory,
        "nbytes": index.nbytes,
        "peak": peak,
        "qps": wall,
        "cpu_qps": cpu,
        "batch_qps": batch_qps,
        "results": results,
        "adds": adds,
        "removes": removes,
        "merge": merge,
        "merged_rows": len(extra_hex),
        "plan": plan,
        "min_rows": index_module.MIH_MIN_ROWS,
    }


def _chunk_label(chunk: Any) -> str:
    """width/radius, and /buckets when the chunk is wider than its buckets (bitmap)."""
    label = f"{chunk.width}/{chunk.radius}"
    return label if chunk.bucket_width == chunk.width else f"{label}/{chunk.bucket_width}"


def run_faiss(
    data: dict[str, Any], algorithm: str, kind: str, seconds: float, cores: int
) -> dict[str, Any]:
    import faiss

    hashes, needles = data["hashes"], data["needles"]
    threshold = THRESHOLDS[algorithm]
    bits = hashes.shape[1] * 8
    faiss.omp_set_num_threads(1)
    before = rss_bytes()
    start = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexBinaryFlat(bits)
    else:
        index = faiss.IndexBinaryMultiHash(bits, bits // 16, 16)
        index.nflip = threshold // (bits // 16)
    index.add(hashes)
    build = time.perf_counter() - start
    memory = rss_bytes() - before
    peak = peak_rss_bytes() - before

    def single(row: np.ndarray) -> None:
        index.range_search(row[None, :], threshold + 1)  # FAISS: distance < radius

    rows = list(needles)
    wall, cpu, _ = timed_loop(single, rows, seconds)
    faiss.omp_set_num_threads(cores)
    start = time.perf_counter()
    limits, _, labels = index.range_search(needles, threshold + 1)
    batch_qps = len(needles) / (time.perf_counter() - start)
    results = [labels[limits[i] : limits[i + 1]].tolist() for i in range(len(needles))]
    return {
        "name": "FAISS " + ("IndexBinaryFlat" if kind == "flat" else "IndexBinaryMultiHash"),
        "build": build,
        "memory": memory,
        "nbytes": memory,
        "peak": peak,
        "qps": wall,
        "cpu_qps": cpu,
        "batch_qps": batch_qps,
        "results": results,
    }


def in_child(target: Any, *args: Any) -> dict[str, Any]:
    """Run one measurement in a forked process (its own memory, its own OpenMP pool)."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)

    def work() -> None:
        child.send(target(*args))
        child.close()

    process = context.Process(target=work)
    process.start()
    result = parent.recv()
    process.join()
    return result  # type: ignore[no-any-return]


def recall(found: list[list[int]], truth: list[list[int]]) -> tuple[float, int]:
    total = sum(len(t) for t in truth)
    hit = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    exact = sum(sorted(f) == sorted(t) for f, t in zip(found, truth, strict=True))
    return (hit / total if total else 1.0), exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--10m", dest="ten_million", action="store_true", help="add 10,000,000")
    parser.add_argument("--algorithms", nargs="+", default=["pdq", "phash"], choices=THRESHOLDS)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=8.0, help="cap per single-query loop")
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    sizes = [*args.sizes, *([10_000_000] if args.ten_million else [])]
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')} cores={args.cores} "
        f"loadavg={os.getloadavg()[0]:.2f} queries={args.queries}"
    )
    for algorithm in args.algorithms:
        for size in sizes:
            data = make_data(algorithm, size, args.queries, seed=size)
            flat = in_child(run_faiss, data, algorithm, "flat", args.seconds, args.cores)
            mih = in_child(run_faiss, data, algorithm, "mih", args.seconds, args.cores)
            ours = in_child(run_ours, data, algorithm, args.seconds, args.cores)
            truth = flat["results"]
            matches = sum(len(t) for t in truth)
            print(
                f"\n## {algorithm}, N = {size:,}, within {THRESHOLDS[algorithm]} bits: "
                f"{matches} true matches over {args.queries} queries; plan {ours['plan']}"
            )
            print(
                "| index | build s | memory MB (peak while building) | q/s, 1 core (CPU) "
                f"| batch q/s, {args.cores} cores | recall | exact queries |"
            )
            print("| --- | --- | --- | --- | --- | --- | --- |")
            for row in (ours, mih, flat):
                rate, exact = recall(row["results"], truth)
                print(
                    f"| {row['name']} | {row['build']:.2f} | {row['memory'] / 1e6:,.0f} "
                    f"({row['peak'] / 1e6:,.0f}) | {row['qps']:,.0f} ({row['cpu_qps']:,.0f}) "
                    f"| {row['batch_qps']:,.0f} | {rate:.4f} | {exact}/{args.queries} |"
                )
            print(
                f"ratios, single queries: {ours['qps'] / mih['qps']:.1f}x MultiHash, "
                f"{ours['qps'] / flat['qps']:.1f}x Flat; batch: "
                f"{ours['batch_qps'] / mih['batch_qps']:.1f}x MultiHash, "
                f"{ours['batch_qps'] / flat['batch_qps']:.1f}x Flat; "
                f"batch / single (ours): {ours['batch_qps'] / ours['qps']:.2f}x"
            )
            print(
                f"HashIndex arrays {ours['nbytes'] / 1e6:,.0f} MB; "
                f"{ours['merged_rows']:,} adds at {ours['adds']:,.0f}/s, the next query "
                f"then took {ours['merge']:.3f} s; removes at {ours['removes']:,.0f}/s"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
