"""The conformance data, read in place from ``../shared/conformance`` (never copied)."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT.parent / "shared" / "conformance"
PDQ_DIR = CONFORMANCE / "pdq"
PDQ_DATA = PDQ_DIR / "data"
PDQ_EXPECTED = PDQ_DIR / "expected"
IMAGEHASH_DIR = CONFORMANCE / "imagehash"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def pdq_generated_rows() -> list[dict[str, str]]:
    return read_csv(PDQ_EXPECTED / "generated" / "pdq-pdqhash-0.2.8.csv")


def conformance_image_paths() -> list[Path]:
    """Every image file of the PDQ conformance set (41 images)."""
    return [PDQ_DIR / row["image"] for row in pdq_generated_rows()]
