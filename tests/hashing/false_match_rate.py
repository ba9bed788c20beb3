"""Measure false matches between unrelated images (documented in hashing/README.md).

Counts, over every pair of mutually unrelated images, how many fall within the default
thresholds (pHash/dHash <= 10 of 64 bits, PDQ <= 31 of 256). The image set:

* the conformance photos that are unrelated to each other (one bridge photo, the seven
  labelme photos, pen-and-coaster, c.png, small.jpg, wee.jpg, exif-rotn-6, imagehash.png);
* optional ``--extra-dir`` folders of images the caller asserts are unrelated (we used the
  sample images bundled in the scikit-image 0.26.0 wheel, minus near-duplicates);
* ``--synthetic N`` procedurally generated natural-looking images (tests/hashing/synthetic.py).

Usage: .venv/bin/python -m tests.hashing.false_match_rate [--synthetic 2000] [--extra-dir D]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hashing import imagehashes
from hashing.decode import open_image
from hashing.distance import PDQ_MATCH_THRESHOLD, PHASH_MATCH_THRESHOLD
from hashing.pdq import pdq_hash
from tests.hashing.synthetic import natural_image
from tests.support.conformance import IMAGEHASH_DIR, PDQ_DATA

UNRELATED_CONFORMANCE = [
    PDQ_DATA / "bridge-mods" / "aaa-orig.jpg",
    *sorted((PDQ_DATA / "reg-test-input" / "labelme-subset").glob("*.jpg")),
    PDQ_DATA / "reg-test-input" / "pen-and-coaster.png",
    PDQ_DATA / "misc-images" / "c.png",
    PDQ_DATA / "misc-images" / "small.jpg",
    PDQ_DATA / "misc-images" / "wee.jpg",
    PDQ_DATA / "reg-test-input" / "exif-rotn" / "exif-rotn-6.jpg",
    IMAGEHASH_DIR / "imagehash.png",
]


def _pack(hex_values: list[str]) -> npt.NDArray[np.uint64]:
    return np.array(
        [np.frombuffer(bytes.fromhex(value), dtype=">u8") for value in hex_values], dtype=np.uint64
    )


def pairwise_distances(hex_values: list[str]) -> npt.NDArray[np.int64]:
    """Hamming distance of every unordered pair (i < j), as a flat array."""
    packed = _pack(hex_values)
    out = []
    for i in range(len(packed) - 1):
        out.append(np.bitwise_count(packed[i + 1 :] ^ packed[i]).sum(axis=1, dtype=np.int64))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def images(extra_dirs: list[Path], synthetic: int) -> Iterator[tuple[str, object]]:
    for path in UNRELATED_CONFORMANCE:
        yield f"conformance:{path.name}", open_image(path)
    for folder in extra_dirs:
        for path in sorted(folder.iterdir()):
            yield f"extra:{path.name}", open_image(path)
    rng = np.random.default_rng(2026)
    for seed in range(synthetic):
        width, height = (int(value) for value in rng.integers(200, 640, size=2))
        yield f"synthetic:{seed}", natural_image(10_000 + seed, width, height)


def measure(
    hashes: dict[str, list[str]], *, pdq_quality_ok: list[bool]
) -> dict[str, dict[str, float]]:
    report = {}
    limits = {
        "phash": PHASH_MATCH_THRESHOLD,
        "dhash": PHASH_MATCH_THRESHOLD,
        "pdq": PDQ_MATCH_THRESHOLD,
    }
    for name, values in hashes.items():
        if name == "pdq":
            values = [value for value, ok in zip(values, pdq_quality_ok, strict=True) if ok]
        distances = pairwise_distances(values)
        limit = limits[name]
        report[name] = {
            "images": len(values),
            "pairs": int(distances.size),
            "false_matches": int((distances <= limit).sum()),
            "rate": float((distances <= limit).mean()) if distances.size else 0.0,
            "min_distance": int(distances.min()) if distances.size else -1,
            "p01_distance": float(np.percentile(distances, 1)) if distances.size else -1,
        }
    return report


def run(extra_dirs: list[Path], synthetic: int) -> tuple[dict[str, dict[str, float]], list[str]]:
    names: list[str] = []
    hashes: dict[str, list[str]] = {"phash": [], "dhash": [], "pdq": []}
    quality_ok: list[bool] = []
    for name, image in images(extra_dirs, synthetic):
        names.append(name)
        hashes["phash"].append(imagehashes.phash(image))
        hashes["dhash"].append(imagehashes.dhash(image))
        pdq = pdq_hash(image)
        hashes["pdq"].append(pdq.hash)
        quality_ok.append(pdq.is_shareable)
    return measure(hashes, pdq_quality_ok=quality_ok), names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", type=int, default=2000)
    parser.add_argument("--extra-dir", type=Path, action="append", default=[])
    args = parser.parse_args()
    report, names = run(args.extra_dir, args.synthetic)
    real = sum(1 for name in names if not name.startswith("synthetic:"))
    print(f"images: {len(names)} ({real} real photos/pictures, {len(names) - real} synthetic)")
    for name, row in report.items():
        print(
            f"{name:6} images={row['images']:5} pairs={row['pairs']:8} "
            f"false matches={row['false_matches']:5} rate={row['rate']:.2e} "
            f"min distance={row['min_distance']} 1st percentile={row['p01_distance']:.0f}"
        )


if __name__ == "__main__":
    main()
