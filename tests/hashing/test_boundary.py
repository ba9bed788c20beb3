"""The hashing package stays framework-free (STYLE.md section 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import hashing
import hashing.__main__, hashing.decode, hashing.digests, hashing.distance, hashing.index
import hashing.algorithms, hashing.imagehashes, hashing.pdq, hashing.signals
hashing.hash_image("../shared/conformance/pdq/data/misc-images/wee.jpg")
forbidden = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {"django", "rest_framework", "celery", "portal", "api"}
)
print(",".join(forbidden))
"""


def test_importing_and_using_hashing_never_imports_django_or_project_code() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip() == ""


def test_warm_up_loads_the_kernels_and_hashing_still_matches() -> None:
    import hashing

    hashing.warm_up()
    result = hashing.hash_image(ROOT.parent / "shared/conformance/pdq/data/misc-images/wee.jpg")
    assert result["pdq"] == "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"
