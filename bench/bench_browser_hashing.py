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
Workers as the pool has), with the page's frame gaps while the pool works. With
`--cpu-throttle N` the batch runs again with DevTools' CPU throttling applied to every
Worker (attached before it starts) and to the page, a mid-range phone model.

Usage:  .venv/bin/python bench/bench_browser_hashing.py [--rounds 5] [--megapixels 12]
            [--batch 20] [--cpu-throttle 4]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import json
import shutil
import statistics
import sys
import tempfile
import threading
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
  out["MD5 + SHA-256 (streamed)"] = performance.now() - t;
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
  t = performance.now();
  buffer.hash(order);
  out["PDQ + pHash + dHash (wasm)"] = performance.now() - t;
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

RUN_BATCH = """async ([count, rounds, poolSize]) => {
  const { WorkerPool, defaultPoolSize } = await import("./js/client.js");
  const files = [];
  for (let i = 0; i < count; i++) {
    const blob = await (await fetch(`./batch-${i}.jpg`)).blob();
    files.push(new File([blob], `photo-${i}.jpg`, { type: "image/jpeg" }));
  }
  const size = poolSize || defaultPoolSize();
  const decodeIn = (worker, part, mode) => new Promise((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage({ files: part, mode });
  });
  const decoders = [];
  for (let i = 0; i < size; i++) decoders.push(new Worker("./batch-decode.js", { type: "module" }));
  // Warm up every decoder and the pool's Workers on one file each.
  await Promise.all(decoders.map((w) => decodeIn(w, files.slice(0, 1), "sequential")));
  const pool = new WorkerPool(new URL("./js/worker.js", location.href), { size });
  await Promise.all(files.slice(0, size).map((f) => pool.hash(f)));
  const out = { size, cores: navigator.hardwareConcurrency, memory: navigator.deviceMemory ?? null,
    sequential: [], together: [], spread: [], pool: [], gaps: [] };
  for (let r = 0; r < rounds; r++) {
    out.sequential.push(await decodeIn(decoders[0], files, "sequential"));
    out.together.push(await decodeIn(decoders[0], files, "together"));
    let t = performance.now();
    const share = (k) => files.filter((_, i) => i % size === k);
    await Promise.all(decoders.map((w, k) => decodeIn(w, share(k), "sequential")));
    out.spread.push(performance.now() - t);
    let last = performance.now();
    let running = true;
    const tick = (now) => {
      out.gaps.push(now - last);
      last = now;
      if (running) requestAnimationFrame(tick);
    };
    requestAnimationFrame((now) => { last = now; requestAnimationFrame(tick); });
    t = performance.now();
    const records = await Promise.all(files.map((f) => pool.hash(f)));
    out.pool.push(performance.now() - t);
    running = false;
    out.pdq = records.map((rec) => rec.pdq);
  }
  pool.terminate();
  for (const w of decoders) w.terminate();
  return out;
}"""

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


def _run_batch(page, args) -> dict:
    return page.evaluate(RUN_BATCH, [args.batch, args.batch_rounds, args.pool_size])


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
    seq = statistics.median(batch["sequential"])
    together = statistics.median(batch["together"])
    spread = statistics.median(batch["spread"])
    pool = statistics.median(batch["pool"])
    memory = f"{batch['memory']} GB" if batch["memory"] else "unknown"
    print(
        f"Selection of {args.batch} photos of {args.megapixels:g} MP, Chromium {version}, "
        f"{label}; {batch['cores']} cores, device memory {memory}; "
        f"pool of {batch['size']} Workers; medians of {args.batch_rounds} rounds"
    )
    print(f"  decode, one at a time in one Worker     : {seq:8.0f} ms")
    print(f"  decode, all requested at once, 1 Worker : {together:8.0f} ms")
    print(f"  decode, spread over {batch['size']} Workers          : {spread:8.0f} ms")
    print(
        f"  hash the selection (WorkerPool)         : {pool:8.0f} ms = "
        f"{pool / seq:.2f}x one-at-a-time decode, {pool / together:.2f}x all-at-once, "
        f"{pool / spread:.2f}x spread decode (target <= 1.2x)"
    )
    print(f"  page while the pool hashes: {_gap_summary(batch['gaps'])}")
    if "throttled" in label and REFUSED:
        print(f"  (Workers not throttled; Chromium answered: {'; '.join(sorted(REFUSED))})")
    assert len(set(batch["pdq"])) == args.batch, "every photo should have its own PDQ"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--batch", type=int, default=20, help="photos in the selection (0: skip)")
    parser.add_argument("--batch-rounds", type=int, default=3)
    parser.add_argument("--cpu-throttle", type=float, default=0, help="e.g. 4 (0: skip)")
    parser.add_argument("--only-batch", action="store_true", help="skip the one-photo figures")
    parser.add_argument("--pool-size", type=int, default=0, help="0: defaultPoolSize()")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        shutil.copytree(JS_DIR, site / "js")
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
        for i in range(args.batch):
            (site / f"batch-{i}.jpg").write_bytes(photo_jpeg(args.megapixels, seed=100 + i))

        handler = functools.partial(_Quiet, directory=str(site))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                page.wait_for_function("window.ready === true")
                version = browser.version
                batches = []
                if args.batch:
                    batches.append(("no throttling", _run_batch(page, args)))
                    if args.cpu_throttle:
                        throttled = browser.new_page()
                        throttled.goto(page.url)
                        throttled.wait_for_function("window.ready === true")
                        _throttle_all(throttled, args.cpu_throttle)
                        batches.append(
                            (f"CPU throttled {args.cpu_throttle:g}x", _run_batch(throttled, args))
                        )
                if not args.only_batch:
                    worker = page.evaluate(RUN_IN_WORKER, [args.rounds])
                    main_thread = page.evaluate(RUN_ON_MAIN_THREAD)
                browser.close()
        finally:
            server.shutdown()
            server.server_close()

    for label, batch in batches:
        _print_batch(label, batch, args, version)
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
