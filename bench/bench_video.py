"""Server video hashing speed: ``hashing.video.hash_video`` against decoding alone, one run.

A deterministic 1080p H.264 clip (a conformance photo panned slowly, seeded noise, 30 fps,
x264 ``veryfast`` CRF 23, made in memory with PyAV) is measured side by side, interleaved
round by round, on the same bytes:

* decode      PyAV demux + decode of every frame, threaded as ``hash_video`` threads it,
              nothing else (the floor: every frame of an inter-coded video must be decoded);
* + convert   decode, plus the RGB conversion of the sampled frames (one a second);
* hash_video  the whole thing: MD5 + SHA-256 of the file, decode, conversion and PDQ of the
              sampled frames (what the CLI and the portal run);
* vpdq        Meta's ``vpdq.computeHash`` on the same file (when installed), for scale.

The figure is sampled frames hashed per second (``hash_video``) and the ratio of its time to
decoding alone. CPU time of this process is printed too (a shared machine inflates wall
time, not CPU time; vpdq's threads are counted in it as well).

Usage:  .venv/bin/python bench/bench_video.py [--rounds 5] [--seconds 10]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import hashing  # noqa: E402
from hashing import video  # noqa: E402

PHOTO = ROOT.parent / "shared" / "conformance" / "pdq" / "data" / "bridge-mods" / "aaa-orig.jpg"
WIDTH, HEIGHT, FPS = 1920, 1080, 30


def make_clip(seconds: int) -> bytes:
    """A 1080p H.264 MP4: the photo (upscaled) panning 4% over the clip, with film grain."""
    photo = Image.open(PHOTO).convert("RGB").resize((2400, 1500), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(11)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        frames = seconds * FPS
        for index in range(frames):
            left = 100 + 96 * index / frames
            box = (left, 100, left + 2100, 100 + 2100 * HEIGHT / WIDTH)
            pixels = np.asarray(photo.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR, box))
            grain = rng.integers(-6, 7, size=pixels.shape, dtype=np.int16)
            pixels = np.clip(pixels + grain, 0, 255).astype(np.uint8)
            output.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        output.mux(stream.encode())
    return buffer.getvalue()


def decode_only(data: bytes, *, convert: bool = False) -> int:
    with av.open(io.BytesIO(data), format="mov") as container:
        stream = container.streams.video[0]
        video._set_threading(stream)
        modulus = int(float(stream.average_rate))
        count = 0
        for frame in video._decoded_frames(container, stream):
            if convert and count % modulus == 0:
                video._rgb(frame, WIDTH, HEIGHT)
            count += 1
    return count


def timed(function: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10, help="clip length")
    args = parser.parse_args()

    hashing.warm_up()
    started = time.perf_counter()
    data = make_clip(args.seconds)
    print(
        f"clip: {WIDTH}x{HEIGHT} H.264, {args.seconds} s at {FPS} fps, "
        f"{len(data) / 1e6:.1f} MB (encoded in {time.perf_counter() - started:.0f} s); "
        f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}"
    )
    result = video.hash_video(data)
    sampled = len(result.sampled)
    assert result.frames_decoded == args.seconds * FPS, result.frames_decoded
    assert decode_only(data) == result.frames_decoded

    runs: dict[str, Callable[[], object]] = {
        "decode": lambda: decode_only(data),
        "+ convert": lambda: decode_only(data, convert=True),
        "hash_video": lambda: video.hash_video(data),
    }
    with tempfile.TemporaryDirectory() as directory:
        try:
            import vpdq
        except ImportError:
            vpdq = None
            print("vpdq not installed (make install-dev): reference row skipped")
        if vpdq is not None:
            path = Path(directory) / "clip.mp4"
            path.write_bytes(data)  # vpdq reads only paths; a bench clip, not an upload
            reference = vpdq.computeHash(str(path), seconds_per_hash=1.0)
            assert [f.frame_number for f in reference] == [f.frame for f in result.sampled]
            runs["vpdq"] = lambda: vpdq.computeHash(str(path), seconds_per_hash=1.0)

        walls: dict[str, list[float]] = {name: [] for name in runs}
        cpus: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                wall, cpu = timed(run)
                walls[name].append(wall)
                cpus[name].append(cpu)

    decode_wall = statistics.median(walls["decode"])
    decode_cpu = statistics.median(cpus["decode"])
    frames = result.frames_decoded
    print(f"\n{sampled} sampled frames of {frames}; {args.rounds} rounds, interleaved\n")
    decode_min = min(walls["decode"])
    print(
        "| run | median s | min s | median x decode | min x decode | CPU s | CPU x decode "
        "| frames/s decoded (min) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in runs:
        wall, fastest = statistics.median(walls[name]), min(walls[name])
        cpu = statistics.median(cpus[name])
        print(
            f"| {name} | {wall:.2f} | {fastest:.2f} | {wall / decode_wall:.2f} "
            f"| {fastest / decode_min:.2f} | {cpu:.2f} | {cpu / decode_cpu:.2f} "
            f"| {frames / fastest:.0f} |"
        )
    # On a shared machine the fastest round is the least disturbed one; CPU time is not
    # inflated by other jobs at all.
    fastest = min(walls["hash_video"])
    cpu_ratio = statistics.median(cpus["hash_video"]) / decode_cpu
    print(
        f"\nhash_video: {sampled / fastest:.1f} sampled frames hashed per second "
        f"({frames / fastest:.0f} frames decoded per second) in the fastest round; "
        f"{fastest / decode_min:.2f}x decoding alone (fastest rounds), "
        f"{cpu_ratio:.2f}x in CPU time (medians)"
    )


if __name__ == "__main__":
    main()
