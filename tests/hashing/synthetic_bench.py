"""The deterministic benchmark photo (shared by bench/bench_server_hashing.py and the tests).

A conformance photo upscaled to the requested size with a little seeded noise (so JPEG has
real detail to code), saved as a quality-90 JPEG. Nothing is downloaded or kept on disk.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

SOURCE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "conformance"
    / "pdq"
    / "data"
    / "bridge-mods"
    / "aaa-orig.jpg"
)


def bench_jpeg(width: int = 4000, height: int = 3000, *, seed: int = 12) -> bytes:
    """A ``width`` x ``height`` photo as JPEG bytes (quality 90, 4:2:0), identical every run."""
    with Image.open(SOURCE) as source:
        photo = source.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(seed)
    noisy = np.asarray(photo, dtype=np.int16) + rng.integers(
        -6, 7, size=(height, width, 3), dtype=np.int16
    )
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB").save(
        buffer, format="JPEG", quality=90
    )
    return buffer.getvalue()
