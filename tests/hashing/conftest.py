"""Fixtures for the hashing tests (the conformance paths and readers: tests/support/conformance.py).

The conformance data is read in place from ``../shared/conformance`` (never copied).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.conformance import PDQ_DIR, conformance_image_paths


@pytest.fixture(scope="session")
def conformance_images() -> list[Path]:
    paths = conformance_image_paths()
    assert paths, f"no conformance images under {PDQ_DIR}"
    return paths
