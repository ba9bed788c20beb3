"""Browser video hashing speed: ``hashing/js/video.js`` against decoding alone, in Chromium.

The same deterministic 1080p H.264 clip as ``bench_video.py`` (made in memory with PyAV) is
served to headless Debian Chromium and measured in one Worker, interleaved round by round:

* decode      mediabunny demux + WebCodecs ``VideoDecoder`` of every frame, each frame
              closed as it comes out (the floor: every frame must be decoded);
* + copy      decode, plus ``VideoFrame.copyTo`` of the sampled frames' planes;
* hashVideo   the whole thing: MD5 + SHA-256 of the file, demux, decode, swscale-exact RGB
              conversion and PDQ of the sampled frames (what a portal Worker runs).

The figure is sampled frames hashed per second and the ratio of hashVideo's time to decoding
alone. Each measurement is one call from here; besides wall time the script adds up the CPU
time of every Chromium process over it (/proc), which other jobs on a shared machine do not
inflate. The script first checks the browser's record equals ``hashing.video.hash_video``'s.

Usage:  .venv/bin/python bench/bench_browser_video.py [--rounds 5] [--seconds 10]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import statistics
import sys
import tempfile
import threading
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_browser_hashing import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    JS_DIR,
    _chromium_pid,
    _tree_cpu_seconds,
)
from bench_video import FPS, HEIGHT, WIDTH, make_clip  # noqa: E402

from hashing.video import hash_video  # noqa: E402


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def log_message(self, format: str, *args: object) -> None:
        pass


PAGE = """<!doctype html><meta charset="utf-8"><title>bench</title>
<script type="module">
const worker = new Worker("./bench-worker.js", { type: "module" });
window.run = (message) => new Promise((resolve) => {
  worker.onmessage = (event) => resolve(event.data);
  worker.postMessage(message);
});
window.ready = true;
</script>"""

BENCH_WORKER = """
import { hashVideo } from "./js/video.js";
import {
  BlobSource, EncodedPacketSink, Input, MP4, QTFF,
} from "./js/vendor/mediabunny-1.61.0/mediabunny.min.mjs";

async function decodeAll(file, copyEvery) {
  const input = new Input({ source: new BlobSource(file), formats: [MP4, QTFF] });
  const track = (await input.getVideoTracks())[0];
  const config = await track.getDecoderConfig();
  const sink = new EncodedPacketSink(track);
  let decoded = 0;
  const copies = [];
  const decoder = new VideoDecoder({
    output(frame) {
      if (copyEvery && decoded % copyEvery === 0) {
        const data = new Uint8Array(frame.allocationSize());
        copies.push(frame.copyTo(data).finally(() => frame.close()));
      } else {
        frame.close();
      }
      decoded++;
    },
    error(err) { throw err; },
  });
  decoder.configure(config);
  for await (const packet of sink.packets()) {
    decoder.decode(packet.toEncodedVideoChunk());
    while (decoder.decodeQueueSize > 8) {
      await new Promise((resolve) => decoder.addEventListener("dequeue", resolve, { once: true }));
    }
  }
  await decoder.flush();
  await Promise.all(copies);
  decoder.close();
  input.dispose();
  return decoded;
}

let file = null;
self.onmessage = async (event) => {
  const { op, fps } = event.data;
  const blob = file ? null : await (await fetch("./bench.mp4")).blob();
  file ||= new File([blob], "bench.mp4", { type: "video/mp4" });
  const start = performance.now();
  if (op === "decode") {
    const decoded = await decodeAll(file, 0);
    self.postMessage({ ms: performance.now() - start, decoded });
  } else if (op === "copy") {
    await decodeAll(file, fps);
    self.postMessage({ ms: performance.now() - start });
  } else {
    const result = await hashVideo(file);
    const ms = performance.now() - start;
    self.postMessage({ ms, record: result.record, sampled: result.sampled.length });
  }
};
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    clip = make_clip(args.seconds)
    marker = f"--takeback-bench={uuid.uuid4().hex}"  # finds the browser process in /proc
    times: dict[str, list[float]] = {"decode": [], "copy": [], "hash": []}
    cpu: dict[str, list[float]] = {"decode": [], "copy": [], "hash": []}
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        shutil.copytree(JS_DIR, site / "js")
        (site / "index.html").write_text(PAGE)
        (site / "bench-worker.js").write_text(BENCH_WORKER)
        (site / "bench.mp4").write_bytes(clip)
        handler = functools.partial(_Quiet, directory=str(site))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, marker]
                )
                browser_pid = _chromium_pid(marker)
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                page.wait_for_function("window.ready === true")
                version = browser.version

                def run(op: str) -> dict:
                    return page.evaluate("(m) => window.run(m)", {"op": op, "fps": FPS})

                first = run("hash")  # warm-up, and the record to check
                decoded = run("decode")["decoded"]
                ops = list(times)
                for round_ in range(args.rounds):
                    # Each round starts with another variant, so none always runs first.
                    for op in ops[round_ % 3 :] + ops[: round_ % 3]:
                        before = _tree_cpu_seconds(browser_pid)
                        got = run(op)
                        cpu[op].append(_tree_cpu_seconds(browser_pid) - before)
                        times[op].append(got["ms"] / 1000)
                browser.close()
        finally:
            server.shutdown()
            server.server_close()
    result = {"record": first["record"], "sampled": first["sampled"], "decoded": decoded}

    expected = hash_video(clip).record()
    if result["record"] != expected:
        print("the browser's record differs from hash_video's:", result["record"], expected)
        return 1
    decode_min = min(times["decode"])
    sampled = result["sampled"]
    print(
        f"Chromium {version} (headless, --disable-gpu), one Worker, {args.rounds} rounds; "
        f"{WIDTH}x{HEIGHT} H.264 MP4, {result['decoded']} frames at {FPS} fps, "
        f"{len(clip) / 1e6:.1f} MB, {sampled} sampled; the record equals hash_video's"
    )
    print(
        "| | median s | min s | min x decode | CPU s (median) | CPU x decode | min CPU x decode |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    cpu_decode = statistics.median(cpu["decode"])
    labels = {
        "decode": "decode alone (mediabunny + VideoDecoder)",
        "copy": "decode + copyTo of the sampled frames",
        "hash": "`hashVideo` (digests, decode, conversion, PDQ)",
    }
    for name, label in labels.items():
        median, low = statistics.median(times[name]), min(times[name])
        used = statistics.median(cpu[name])
        print(
            f"| {label} | {median:.2f} | {low:.2f} | {low / decode_min:.2f} | "
            f"{used:.2f} | {used / cpu_decode:.2f} | {min(cpu[name]) / min(cpu['decode']):.2f} |"
        )
    hash_median, hash_min = statistics.median(times["hash"]), min(times["hash"])
    print(
        f"sampled frames hashed per second: {sampled / hash_median:.1f} (median round), "
        f"{sampled / hash_min:.1f} (fastest round); frames decoded per second in hashVideo: "
        f"{result['decoded'] / hash_min:.0f} (fastest round)"
    )
    per_frame = (statistics.median(cpu["hash"]) - cpu_decode) / sampled * 1000
    print(f"CPU added per sampled frame (hashVideo - decode, medians): {per_frame:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
