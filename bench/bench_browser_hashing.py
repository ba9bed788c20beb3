"""Browser hashing speed: `hashFile` vs Chromium's own decode of a 12 MP JPEG, in one run.

Everything is measured inside one module Worker of Debian's headless Chromium, on the same
file, interleaved round by round:

* decode: `createImageBitmap(blob, <the options hashing.js uses>)`, the browser's own
  full decode of the file;
* hashFile: the whole record (MD5 + SHA-256 streamed, decode, pixel read-back, PDQ,
  pHash, dHash), as the portal runs it;
* a breakdown of hashFile's stages, to show where the time goes.

It also shows the page stays responsive: while the Worker hashes, the main thread's
requestAnimationFrame gaps are recorded (and, for contrast, while hashing on the main
thread itself).

A selection (`--batch 20`, the default; 0 skips it): that many different photos hashed by
hashing/js's WorkerPool as the portal's page does, against Chromium decoding the same files
(one at a time in one Worker; all requested at once in one Worker; and spread over as many
Workers as the pool has), with the page's frame gaps while the pool works. Each variant is
one call, rotated round by round; besides wall time it adds up the CPU time of every
Chromium process over the call (/proc), which other jobs on a shared machine inflate much
less. `--before REV` also hashes the selection with hashing/js as it was at git revision
REV, in the same run (the records must be equal). With `--cpu-throttle N` the batch runs
again with DevTools' CPU throttling applied to the page and asked for every Worker
(attached before it starts), a mid-range phone model. `--stages N` gives the CPU time per
photo of each stage of hashFile over N photos.

Usage:  .venv/bin/python bench/bench_browser_hashing.py [--rounds 5] [--megapixels 12]
            [--batch 20] [--batch-rounds 3] [--cpu-throttle 4] [--before REV] [--stages 6]
            [--only-batch]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "hashing" / "js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PAGE = """<!doctype html><meta charset="utf-8"><title>bench</title>
<script type="module">
import * as hashing from "./js/hashing.js";
window.hashing = hashing;
window.ready = true;
</script>"""

# The Worker that does the timing, next to the copied hashing/js.
BENCH_WORKER = """
import { hashFile, decodeBitmap, readPixels } from "./js/hashing.js";
import { digestBlob } from "./js/digest.js";
import { PixelBuffer } from "./js/fast.js";

const OPTIONS = {
  imageOrientation: "from-image", colorSpaceConversion: "none", premultiplyAlpha: "none",
};

async function decodeOnly(blob) {
  const t = performance.now();
  const bitmap = await createImageBitmap(blob, OPTIONS);
  const ms = performance.now() - t;
  bitmap.close();
  return ms;
}

async function hashOnly(blob, engine) {
  const t = performance.now();
  const record = await hashFile(blob, { engine });
  return { ms: performance.now() - t, record };
}

async function stages(blob) {
  const out = {};
  let t = performance.now();
  await digestBlob(blob);
  out["MD5 + SHA-256"] = performance.now() - t;
  t = performance.now();
  const bitmap = await decodeBitmap(blob);
  out["createImageBitmap"] = performance.now() - t;
  t = performance.now();
  const buffer = new PixelBuffer(bitmap.width, bitmap.height);
  out["allocate WebAssembly memory"] = performance.now() - t;
  t = performance.now();
  const { method, order } = await readPixels(bitmap, buffer.rgba, "auto", "native");
  out[`read pixels (${method}, ${order})`] = performance.now() - t;
  bitmap.close();
  const kernels = {};
  t = performance.now();
  buffer.hash(order, kernels);
  out["PDQ + pHash + dHash (wasm)"] = performance.now() - t;
  for (const [name, ms] of Object.entries(kernels)) out[`  ${name}`] = ms;
  return out;
}

self.onmessage = async ({ data }) => {
  const { url, rounds } = data;
  const blob = await (await fetch(url)).blob();
  const file = new File([blob], "bench.jpg", { type: "image/jpeg" });
  // Warm up: compile the JS and the WebAssembly, fill the decoder caches.
  await decodeOnly(file);
  await hashOnly(file, "auto");
  await hashOnly(file, "js");
  const rotated = new File([await (await fetch(data.rotatedUrl)).blob()], "portrait.jpg", {
    type: "image/jpeg",
  });
  await hashOnly(rotated, "auto");
  const decodeRotated = [];
  const hashRotated = [];
  const decode = [];
  const hash = [];
  const hashJs = [];
  const breakdown = [];
  let record;
  for (let i = 0; i < rounds; i++) {
    decode.push(await decodeOnly(file));
    const h = await hashOnly(file, "auto");
    hash.push(h.ms);
    record = h.record;
    const j = await hashOnly(file, "js");
    const same = ["pdq", "phash", "dhash"].every((key) => j.record[key] === record[key]);
    if (!same) {
      throw new Error("the JavaScript and WebAssembly engines disagree");
    }
    hashJs.push(j.ms);
    breakdown.push(await stages(file));
    decodeRotated.push(await decodeOnly(rotated));
    hashRotated.push((await hashOnly(rotated, "auto")).ms);
  }
  self.postMessage({
    decode, hash, hashJs, breakdown, record, size: blob.size, decodeRotated, hashRotated,
  });
};
"""

RUN_IN_WORKER = """async ([rounds]) => {
  const gaps = [];
  let last = performance.now();
  let running = true;
  const tick = (now) => {
    gaps.push(now - last);
    last = now;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const worker = new Worker("./bench-worker.js", { type: "module" });
  const result = await new Promise((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage({ url: "./bench.jpg", rotatedUrl: "./bench-portrait.jpg", rounds });
  });
  running = false;
  worker.terminate();
  // A person's first photo: the portal's own worker.js, started fresh (module loading and its
  // warm-up included), the file posted at once; timed until the record comes back.
  const blob = await (await fetch("./bench.jpg")).blob();
  const file = new File([blob], "bench.jpg", { type: "image/jpeg" });
  const cold = {};
  for (let i = 0; i < 12; i++) {
    const warm = i % 2 === 0;
    const early = i % 4 >= 2;
    const when = early ? "0.5 s later" : "at once";
    const variant = `${warm ? "with" : "without"} warm-up, file ${when}`;
    const script = warm ? "./js/worker.js" : "./js/worker-no-warm-up.js";
    const fresh = new Worker(script, { type: "module" });
    // "0.5 s later": the page starts the worker on load, the person then picks a file.
    if (early) await new Promise((r) => setTimeout(r, 500));
    const t = performance.now();
    await new Promise((resolve, reject) => {
      fresh.onmessage = (e) => {
        if (e.data.type === "result") resolve();
        if (e.data.type === "error") reject(new Error(e.data.message));
      };
      fresh.onerror = (e) => reject(new Error(e.message));
      fresh.postMessage({ id: 1, file });
    });
    (cold[variant] ||= []).push(performance.now() - t);
    fresh.terminate();
  }
  return { ...result, gaps, cold };
}"""

# The selection: decode baselines in Workers, then the portal's WorkerPool on the same files.
BATCH_DECODE_WORKER = """
const OPTIONS = {
  imageOrientation: "from-image", colorSpaceConversion: "none", premultiplyAlpha: "none",
};
self.onmessage = async ({ data }) => {
  const { files, mode } = data;
  const t = performance.now();
  if (mode === "sequential") {
    for (const file of files) (await createImageBitmap(file, OPTIONS)).close();
  } else {
    const bitmaps = await Promise.all(files.map((file) => createImageBitmap(file, OPTIONS)));
    for (const bitmap of bitmaps) bitmap.close();
  }
  self.postMessage(performance.now() - t);
};
"""

SETUP_BATCH = """async ([count, poolSize, before]) => {
  const { WorkerPool, defaultPoolSize } = await import("./js/client.js");
  const files = [];
  for (let i = 0; i < count; i++) {
    const blob = await (await fetch(`./batch-${i}.jpg`)).blob();
    files.push(new File([blob], `photo-${i}.jpg`, { type: "image/jpeg" }));
  }
  const size = poolSize || defaultPoolSize();
  const decoders = [];
  for (let i = 0; i < size; i++) decoders.push(new Worker("./batch-decode.js", { type: "module" }));
  const pools = { pool: new WorkerPool(new URL("./js/worker.js", location.href), { size }) };
  if (before) {
    const { WorkerPool: BeforePool } = await import("./js-before/client.js");
    pools.before = new BeforePool(new URL("./js-before/worker.js", location.href), { size });
  }
  const decodeIn = (worker, part, mode) => new Promise((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage({ files: part, mode });
  });
  // Warm up every decoder and every pool's Workers on one file each.
  await Promise.all(decoders.map((w) => decodeIn(w, files.slice(0, 1), "sequential")));
  for (const pool of Object.values(pools)) {
    await Promise.all(files.slice(0, size).map((f) => pool.hash(f)));
  }
  window.batch = { files, size, decoders, pools, decodeIn };
  return { size, cores: navigator.hardwareConcurrency, memory: navigator.deviceMemory ?? null };
}"""

# One measurement of the selection; `op` is a decode baseline or a pool.
RUN_BATCH_ONE = """async (op) => {
  const { files, size, decoders, pools, decodeIn } = window.batch;
  if (op === "sequential" || op === "together") {
    return { ms: await decodeIn(decoders[0], files, op) };
  }
  let t = performance.now();
  if (op === "spread") {
    const share = (k) => files.filter((_, i) => i % size === k);
    await Promise.all(decoders.map((w, k) => decodeIn(w, share(k), "sequential")));
    return { ms: performance.now() - t };
  }
  const gaps = [];
  let last = performance.now();
  let running = true;
  const tick = (now) => {
    gaps.push(now - last);
    last = now;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame((now) => { last = now; requestAnimationFrame(tick); });
  t = performance.now();
  const records = await Promise.all(files.map((f) => pools[op].hash(f)));
  const ms = performance.now() - t;
  running = false;
  return { ms, gaps, records };
}"""

# CPU time by stage: each op runs over the same photos in one Worker, so the CPU time of all
# Chromium's processes over it (/proc) can be divided up; wall time on a loaded machine
# can't be.
STAGES_WORKER = """
import { hashFile, readPixels } from "./js/hashing.js";
import { digestBlob } from "./js/digest.js";
import { PixelBuffer } from "./js/fast.js";
const OPTIONS = {
  imageOrientation: "from-image", colorSpaceConversion: "none", premultiplyAlpha: "none",
};
let files;
async function readInto(file) {
  const bitmap = await createImageBitmap(file, OPTIONS);
  const buffer = new PixelBuffer(bitmap.width, bitmap.height);
  const { order } = await readPixels(bitmap, buffer.rgba, "auto", "native", buffer);
  bitmap.close();
  return { buffer, order };
}
const OPS = {
  "decode (createImageBitmap)": async (f) => (await createImageBitmap(f, OPTIONS)).close(),
  "decode + pixel read-back": async (f) => (await readInto(f)).buffer.release(),
  "decode + read-back + kernels": async (f) => {
    const { buffer, order } = await readInto(f);
    buffer.hash(order);
  },
  "MD5 + SHA-256": (f) => digestBlob(f),
  "hashFile (the whole record)": (f) => hashFile(f),
};
self.onmessage = async ({ data }) => {
  if (data.urls) {
    files = [];
    for (const url of data.urls) {
      files.push(new File([await (await fetch(url)).blob()], "p.jpg", { type: "image/jpeg" }));
    }
    self.postMessage(Object.keys(OPS));
    return;
  }
  for (const file of files) await OPS[data.op](file);
  self.postMessage(0);
};
"""


def _run_stages(page, args, browser_pid: int) -> dict[str, dict[str, list[float]]]:
    """CPU ms per photo of each stage, for this code and (with --before) the revision's,
    the variants rotated round by round in one Worker each."""
    versions = {"this code": "./stages-worker.js"}
    if args.before:
        versions[args.before] = "./stages-worker-before.js"
    ops = page.evaluate(
        """async ([versions, urls]) => {
            window.stages = {};
            let ops;
            for (const [name, script] of Object.entries(versions)) {
                const worker = new Worker(script, { type: "module" });
                stages[name] = worker;
                ops = await new Promise((resolve) => {
                    worker.onmessage = (e) => resolve(e.data);
                    worker.postMessage({ urls });
                });
            }
            return ops;
        }""",
        [versions, [f"./batch-{i}.jpg" for i in range(args.stages)]],
    )

    def run(version: str, op: str) -> None:
        page.evaluate(
            """([version, op]) => new Promise((resolve) => {
                stages[version].onmessage = () => resolve();
                stages[version].postMessage({ op });
            })""",
            [version, op],
        )

    jobs = [(version, op) for op in ops for version in versions]
    for version, op in jobs:
        run(version, op)  # warm-up
    cpu: dict[str, dict[str, list[float]]] = {v: {op: [] for op in ops} for v in versions}
    for round_ in range(args.batch_rounds):
        shift = round_ % len(jobs)
        for version, op in jobs[shift:] + jobs[:shift]:
            before = _tree_cpu_seconds(browser_pid)
            run(version, op)
            used = (_tree_cpu_seconds(browser_pid) - before) / args.stages * 1000
            cpu[version][op].append(used)
    page.evaluate("() => { for (const w of Object.values(stages)) w.terminate(); }")
    return cpu


def _print_stages(cpu: dict[str, dict[str, list[float]]], args) -> None:
    print(
        f"CPU time per {args.megapixels:g} MP photo by stage (all Chromium processes, /proc; "
        f"{args.stages} photos, medians of {args.batch_rounds} rounds, min-max):"
    )
    for version, stages in cpu.items():
        decode = statistics.median(next(iter(stages.values())))
        print(f"  {version}:")
        for op, values in stages.items():
            ms = statistics.median(values)
            spread = f"{min(values):.0f}-{max(values):.0f}"
            print(f"    {op:<30} {ms:7.1f} ms ({ms / decode:.2f}x decode; {spread})")


RUN_ON_MAIN_THREAD = """async () => {
  const blob = await (await fetch("./bench.jpg")).blob();
  const file = new File([blob], "bench.jpg", { type: "image/jpeg" });
  await window.hashing.hashFile(file);
  const gaps = [];
  let last = performance.now();
  let running = true;
  const tick = (now) => {
    gaps.push(now - last);
    last = now;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  await new Promise((r) => setTimeout(r, 100));
  const t = performance.now();
  await window.hashing.hashFile(file);
  const ms = performance.now() - t;
  await new Promise((r) => setTimeout(r, 100));
  running = false;
  return { ms, gaps };
}"""


def _export_js(revision: str, target: Path) -> None:
    """hashing/js as it was at `revision` (git), for a before/after run."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "hashing/js"],
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp, filter="data")
        shutil.copytree(Path(tmp) / "hashing" / "js", target)


def photo_jpeg(megapixels: float, seed: int = 7, *, exif_orientation: int = 1) -> bytes:
    """A deterministic photo-like 4:3 JPEG (quality 90, 4:2:0) of about `megapixels`.

    With `exif_orientation` 6 the pixels are stored rotated and tagged to be shown turned
    90 degrees, as phones store portrait photos.
    """
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5 / 8) * 8
    height = width * 3 // 4
    rng = np.random.default_rng(seed)
    # Build detail at low resolution and upscale, then add sensor-like noise: cheap to make,
    # and it compresses like a real photo (neither flat nor pure noise).
    small = rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
    image = Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(image, dtype=np.int16)
    pixels = pixels + rng.integers(-8, 9, pixels.shape, dtype=np.int16)
    picture = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    exif = Image.Exif()
    if exif_orientation == 6:
        picture = picture.transpose(Image.Transpose.ROTATE_90)
        exif[0x0112] = 6
    buf = io.BytesIO()
    picture.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
    }

    def log_message(self, format: str, *args: object) -> None:
        pass


def _gap_summary(gaps: list[float]) -> str:
    gaps = sorted(gaps[1:]) or [0.0]
    p95 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.95))]
    median = statistics.median(gaps)
    return f"{len(gaps)} frames, median {median:.1f} ms, p95 {p95:.1f} ms, max {gaps[-1]:.1f} ms"


def _tree_cpu_seconds(root: int) -> float:
    """utime + stime of ``root`` and all its descendants (Linux /proc): every Chromium process."""
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = int(fields[11]) + int(fields[12])
    family = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in family and pid not in family:
                family.add(pid)
                grew = True
    return sum(times.get(pid, 0) for pid in family) / os.sysconf("SC_CLK_TCK")


def _chromium_pid(marker: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    raise RuntimeError("Chromium's browser process was not found")


def _run_batch(page, args, browser_pid: int) -> dict:
    """Round by round, each variant in turn (rotated, so none always runs first): wall time
    in the page and CPU time of all Chromium's processes over the call."""
    out = page.evaluate(SETUP_BATCH, [args.batch, args.pool_size, bool(args.before)])
    ops = ["sequential", "together", "spread", "pool"] + (["before"] if args.before else [])
    out.update({op: [] for op in ops}, cpu={op: [] for op in ops}, gaps=[])
    for round_ in range(args.batch_rounds):
        shift = round_ % len(ops)
        for op in ops[shift:] + ops[:shift]:
            cpu = _tree_cpu_seconds(browser_pid)
            got = page.evaluate(RUN_BATCH_ONE, op)
            out["cpu"][op].append(_tree_cpu_seconds(browser_pid) - cpu)
            out[op].append(got["ms"])
            if op == "pool":
                out["gaps"].extend(got["gaps"])
                out["records"] = got["records"]
            elif op == "before":
                out["before_records"] = got["records"]
    page.evaluate(
        """() => {
            for (const pool of Object.values(window.batch.pools)) pool.terminate();
            for (const worker of window.batch.decoders) worker.terminate();
        }"""
    )
    return out


# What Chromium answered when asked to throttle a Worker (it may refuse).
REFUSED: set[str] = set()


def _throttle_all(page, rate: float) -> None:
    """DevTools CPU throttling on the page, and asked for every Worker it starts.

    Throttling set on a page does not reach its Workers, so each Worker target is
    auto-attached paused, asked to throttle through its own session, then let run.
    Chromium 156 refuses that ("Operation is only supported for pages, not workers");
    the refusal is printed with the figures.
    """
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
    counter = iter(range(1, 10**9))

    def to_target(session_id: str, method: str, params: dict) -> None:
        message = {"id": next(counter), "method": method, "params": params}
        cdp.send(
            "Target.sendMessageToTarget",
            {"sessionId": session_id, "message": json.dumps(message)},
        )

    def attached(event: dict) -> None:
        session_id = event["sessionId"]
        if event["targetInfo"]["type"] == "worker":
            to_target(session_id, "Emulation.setCPUThrottlingRate", {"rate": rate})
        to_target(session_id, "Runtime.runIfWaitingForDebugger", {})

    def replied(event: dict) -> None:
        reply = json.loads(event["message"])
        if "error" in reply:
            REFUSED.add(reply["error"].get("message", "refused"))

    cdp.on("Target.attachedToTarget", attached)
    cdp.on("Target.receivedMessageFromTarget", replied)
    cdp.send(
        "Target.setAutoAttach",
        {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": False},
    )


def _print_batch(label: str, batch: dict, args, version: str) -> None:
    med = {op: statistics.median(batch[op]) for op in batch["cpu"]}
    cpu = {op: statistics.median(batch["cpu"][op]) for op in batch["cpu"]}
    memory = f"{batch['memory']} GB" if batch["memory"] else "unknown"
    print(
        f"Selection of {args.batch} photos of {args.megapixels:g} MP, Chromium {version}, "
        f"{label}; {batch['cores']} cores, device memory {memory}; "
        f"pool of {batch['size']} Workers; medians of {args.batch_rounds} rounds"
    )
    names = {
        "sequential": "decode, one at a time in one Worker",
        "together": "decode, all requested at once, 1 Worker",
        "spread": f"decode, spread over {batch['size']} Workers",
        "pool": "hash the selection (WorkerPool)",
        "before": f"hash the selection, {args.before}",
    }
    header = f"{'wall ms':>8} {'(min-max)':>13} {'x all-at-once':>13} {'CPU s':>7} {'CPU x':>6}"
    print(f"  {'':42} {header}")
    for op in batch["cpu"]:
        spread = f"({min(batch[op]):.0f}-{max(batch[op]):.0f})"
        print(
            f"  {names[op]:<42} {med[op]:8.0f} {spread:>13} {med[op] / med['together']:13.2f} "
            f"{cpu[op]:7.2f} {cpu[op] / cpu['together']:6.2f}"
        )
    pool = med["pool"]
    print(
        f"  pool: {pool / med['sequential']:.2f}x one-at-a-time decode, "
        f"{pool / med['together']:.2f}x all-at-once, {pool / med['spread']:.2f}x spread decode "
        f"(target <= 1.2x); per round against all-at-once: "
        + ", ".join(f"{p / t:.2f}" for p, t in zip(batch["pool"], batch["together"], strict=True))
    )
    if "before" in batch:
        print(
            f"  this code / {args.before}, same run: wall {pool / med['before']:.2f}x "
            f"(per round "
            + ", ".join(f"{p / b:.2f}" for p, b in zip(batch["pool"], batch["before"], strict=True))
            + f"), CPU {cpu['pool'] / cpu['before']:.2f}x"
        )
        assert batch["records"] == batch["before_records"], "the two versions' records differ"
    print(f"  page while the pool hashes: {_gap_summary(batch['gaps'])}")
    if "throttled" in label and REFUSED:
        print(f"  (Workers not throttled; Chromium answered: {'; '.join(sorted(REFUSED))})")
    assert len({record["pdq"] for record in batch["records"]}) == args.batch, (
        "every photo should have its own PDQ"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--batch", type=int, default=20, help="photos in the selection (0: skip)")
    parser.add_argument("--batch-rounds", type=int, default=3)
    parser.add_argument("--cpu-throttle", type=float, default=0, help="e.g. 4 (0: skip)")
    parser.add_argument("--only-batch", action="store_true", help="skip the one-photo figures")
    parser.add_argument("--pool-size", type=int, default=0, help="0: defaultPoolSize()")
    parser.add_argument(
        "--stages", type=int, default=0, help="photos for the CPU time by stage (0: skip)"
    )
    parser.add_argument(
        "--before",
        default="",
        help="a git revision: also hash the selection with its hashing/js, in the same run",
    )
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        shutil.copytree(JS_DIR, site / "js")
        if args.before:
            _export_js(args.before, site / "js-before")
        (site / "index.html").write_text(PAGE)
        (site / "bench-worker.js").write_text(BENCH_WORKER)
        # For comparison only: the portal's worker without its warm-up call.
        worker_js = (JS_DIR / "worker.js").read_text()
        warm_up = "warmUp().catch(() => {});"
        assert warm_up in worker_js
        (site / "js" / "worker-no-warm-up.js").write_text(worker_js.replace(warm_up, ""))
        jpeg = photo_jpeg(args.megapixels)
        (site / "bench.jpg").write_bytes(jpeg)
        (site / "bench-portrait.jpg").write_bytes(photo_jpeg(args.megapixels, exif_orientation=6))
        with Image.open(io.BytesIO(jpeg)) as im:
            width, height = im.size
        (site / "batch-decode.js").write_text(BATCH_DECODE_WORKER)
        (site / "stages-worker.js").write_text(STAGES_WORKER)
        before_stages = STAGES_WORKER.replace("./js/", "./js-before/")
        (site / "stages-worker-before.js").write_text(before_stages)
        for i in range(max(args.batch, args.stages)):
            (site / f"batch-{i}.jpg").write_bytes(photo_jpeg(args.megapixels, seed=100 + i))

        handler = functools.partial(_Quiet, directory=str(site))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                marker = f"--takeback-bench={uuid.uuid4().hex}"  # finds it in /proc
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, marker]
                )
                browser_pid = _chromium_pid(marker)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                page.wait_for_function("window.ready === true")
                version = browser.version
                batches = []
                if args.batch:
                    batches.append(("no throttling", _run_batch(page, args, browser_pid)))
                    if args.cpu_throttle:
                        throttled = browser.new_page()
                        throttled.goto(page.url)
                        throttled.wait_for_function("window.ready === true")
                        _throttle_all(throttled, args.cpu_throttle)
                        batches.append(
                            (
                                f"CPU throttled {args.cpu_throttle:g}x",
                                _run_batch(throttled, args, browser_pid),
                            )
                        )
                stages = _run_stages(page, args, browser_pid) if args.stages else None
                if not args.only_batch:
                    worker = page.evaluate(RUN_IN_WORKER, [args.rounds])
                    main_thread = page.evaluate(RUN_ON_MAIN_THREAD)
                browser.close()
        finally:
            server.shutdown()
            server.server_close()

    for label, batch in batches:
        _print_batch(label, batch, args, version)
    if stages:
        _print_stages(stages, args)
    if args.only_batch:
        return 0
    decode = statistics.median(worker["decode"])
    full = statistics.median(worker["hash"])
    print(
        f"Chromium {version} (headless, --disable-gpu), one Worker, {args.rounds} rounds, medians"
    )
    print(
        f"image: {width}x{height} ({width * height / 1e6:.1f} MP) JPEG q90 4:2:0, "
        f"{worker['size'] / 1e6:.1f} MB"
    )
    print(f"createImageBitmap decode alone  : {decode:8.1f} ms/image")
    print(f"hashFile (digests+PDQ+pHash+dHash): {full:8.1f} ms/image")
    print(f"ratio hashFile / decode        : {full / decode:8.2f}x  (target <= 2x)")
    decode_rot = statistics.median(worker["decodeRotated"])
    hash_rot = statistics.median(worker["hashRotated"])
    print(
        f"portrait photo (EXIF orientation 6): decode {decode_rot:.1f} ms, "
        f"hashFile {hash_rot:.1f} ms, ratio {hash_rot / decode_rot:.2f}x"
    )
    print("first image in a fresh worker.js (timed from posting the file to the record):")
    for variant, times in worker["cold"].items():
        cold = statistics.median(times)
        print(f"  {variant:<34} {cold:8.1f} ms ({cold / decode:.2f}x decode)")
    full_js = statistics.median(worker["hashJs"])
    print(
        f"hashFile, pure-JavaScript engine: {full_js:8.1f} ms/image "
        f"({full_js / decode:.2f}x decode)"
    )
    print("hashFile stages, timed one after another (in hashFile the digests overlap the decode):")
    for stage in worker["breakdown"][0]:
        ms = statistics.median(b[stage] for b in worker["breakdown"])
        print(f"  {stage:<30} {ms:8.1f} ms")
    print(
        f"record: pdq={worker['record']['pdq'][:16]}... quality={worker['record']['pdq_quality']}"
    )
    print("main thread while the Worker hashes (requestAnimationFrame gaps):")
    print(f"  {_gap_summary(worker['gaps'])}")
    print(
        f"main thread while hashing ON the main thread ({main_thread['ms']:.0f} ms), for contrast:"
    )
    print(f"  {_gap_summary(main_thread['gaps'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
