"""Server hashing speed: the whole exact pipeline vs Pillow's own decode, in one run.

For a deterministic 12 MP JPEG (and a 1 MP one) built from a conformance photo (upscaled,
seeded noise, quality 90; see tests/hashing/synthetic_bench.py), measured side by side,
interleaved round by round, on the same bytes:

* decode       Pillow's full decode alone (``Image.open(...).load()``);
* obvious      decode + convert("RGB"), ``pdqhash.compute`` on the array,
               ``imagehash.phash``/``dhash``, MD5 + SHA-256 -- the straightforward path;
* exact 1 core ``hashing.hash_bytes`` with its compiled kernels on one thread;
* exact N core ``hashing.hash_bytes`` with the kernels spread over all cores;
* kernels      PDQ + pHash + dHash on already decoded pixels (1 and N cores), to show
               what the hashing adds on top of the decode.

Both pipelines return the same record (checked here before timing). Wall time is what
matters, but on a shared machine other jobs inflate it, so the CPU time this process used
is printed too (for the N-core run it adds up both threads). The speed target is
"exact pipeline <= 2x decode" for the 12 MP photo. Throughput (images/s) is also shown for
one core and for all cores (one worker process per core, each hashing images one at a time).

Usage:  .venv/bin/python bench/bench_server_hashing.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import imagehash  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402
import pdqhash  # noqa: E402
from PIL import Image  # noqa: E402

import hashing  # noqa: E402
from hashing import _fast, _pipeline  # noqa: E402
from hashing.pdq import bits_to_hex  # noqa: E402
from tests.hashing.synthetic_bench import bench_jpeg  # noqa: E402

SIZES = {"12 MP": (4000, 3000), "1 MP": (1152, 864)}


def decode_only(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def obvious(data: bytes) -> dict[str, Any]:
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    bits, quality = pdqhash.compute(np.asarray(image))
    return {
        "media": "image",
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "pdq": bits_to_hex(bits),
        "pdq_quality": int(quality),
        "phash": str(imagehash.phash(image)),
        "dhash": str(imagehash.dhash(image)),
    }


def exact(data: bytes, threads: int) -> dict[str, Any]:
    return _pipeline.hash_in_memory(data, max_pixels=hashing.DEFAULT_MAX_PIXELS, threads=threads)


def _time(function: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, CPU ms of this process) for one call."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    function()
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000


def _warm_up(data: bytes, which: str) -> None:
    # Runs once in every worker process before any timing (loads the compiled kernels).
    _runner(data, which)()


def _runner(data: bytes, which: str) -> Callable[[], object]:
    if which == "exact":
        return functools.partial(exact, data, 1)
    return functools.partial(obvious, data)


def _worker_throughput(data: bytes, count: int, which: str) -> float:
    # Runs in a worker process: hash `count` images one after another, single-threaded.
    runner = _runner(data, which)
    started = time.perf_counter()
    for _ in range(count):
        runner()
    return time.perf_counter() - started


def throughput_all_cores(data: bytes, which: str, cores: int, count: int) -> float:
    # Fresh interpreters (spawn): no thread pools or numba threads inherited from this one;
    # each is warmed up by the initializer before the timed map starts.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=cores, mp_context=context, initializer=_warm_up, initargs=(data, which)
    ) as pool:
        list(pool.map(time.sleep, [0.5] * cores))  # make sure every worker has started
        started = time.perf_counter()
        list(pool.map(_worker_throughput, [data] * cores, [count] * cores, [which] * cores))
        elapsed = time.perf_counter() - started
    return cores * count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--throughput-images", type=int, default=6)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    threads = numba.config.NUMBA_NUM_THREADS
    print(f"cores: {cores}, numba threads: {threads} ({numba.__version__})")
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    for label, (width, height) in SIZES.items():
        data = bench_jpeg(width, height)
        assert exact(data, threads) == exact(data, 1) == obvious(data), "pipelines disagree"
        timings: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        pixels = _fast.pixel_view(hashing.open_image(data))
        runners: dict[str, Callable[[], object]] = {
            "decode": functools.partial(decode_only, data),
            "obvious": functools.partial(obvious, data),
            "exact 1 core": functools.partial(exact, data, 1),
            f"exact {threads} cores": functools.partial(exact, data, threads),
            # The hashing kernels alone, on already decoded pixels (no decode, no digests).
            "kernels 1 core": functools.partial(_fast.hash_pixels, pixels, threads=1),
            f"kernels {threads} cores": functools.partial(
                _fast.hash_pixels, pixels, threads=threads
            ),
        }
        for _ in range(args.rounds):
            # Interleaved round by round, so load changes hit every pipeline alike.
            for name, runner in runners.items():
                wall, used = _time(runner)
                timings.setdefault(name, []).append(wall)
                cpu.setdefault(name, []).append(used)
        medians = {name: statistics.median(values) for name, values in timings.items()}
        cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
        decode_ms = medians["decode"]
        decode_cpu = cpu_medians["decode"]
        print(f"\n{label} JPEG {width}x{height}, {len(data) / 1e6:.2f} MB, {args.rounds} rounds")
        print(
            f"  {'':18} {'median ms':>10} {'min ms':>8} {'x decode':>9}"
            f" {'CPU ms':>8} {'CPU x decode':>13}"
        )
        for name, values in timings.items():
            print(
                f"  {name:18} {medians[name]:10.1f} {min(values):8.1f} "
                f"{medians[name] / decode_ms:9.2f} {cpu_medians[name]:8.1f} "
                f"{cpu_medians[name] / decode_cpu:13.2f}"
            )
        print("  load average now: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        obvious_1 = 1000 / medians["obvious"]
        exact_1 = 1000 / medians["exact 1 core"]
        obvious_n = throughput_all_cores(data, "obvious", cores, args.throughput_images)
        exact_n = throughput_all_cores(data, "exact", cores, args.throughput_images)
        print(f"  images/s          {'1 core':>10} {f'{cores} cores':>10}")
        print(f"  obvious           {obvious_1:10.1f} {obvious_n:10.1f}")
        print(f"  exact             {exact_1:10.1f} {exact_n:10.1f}")


if __name__ == "__main__":
    main()
