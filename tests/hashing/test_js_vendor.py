"""The vendored JavaScript in hashing/js/vendor/ is byte-for-byte what its README records."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "hashing" / "js" / "vendor"
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \| `[^`]+` \| `(?P<sha256>[0-9a-f]{64})` \|$")


def _recorded() -> dict[str, str]:
    rows = {}
    for line in (VENDOR / "README.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match["file"]] = match["sha256"]
    return rows


def test_every_vendored_file_matches_its_recorded_sha256() -> None:
    recorded = _recorded()
    assert recorded, "vendor/README.md lists no files"
    for name, sha256 in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha256, name


def test_no_unrecorded_file_is_vendored() -> None:
    present = {
        path.relative_to(VENDOR).as_posix()
        for path in VENDOR.rglob("*")
        if path.is_file() and path.name != "README.md"
    }
    assert present == set(_recorded())


def test_each_vendored_package_ships_its_licence() -> None:
    for package in (p for p in VENDOR.iterdir() if p.is_dir()):
        assert (package / "LICENSE").is_file(), package.name


def test_the_built_webassembly_matches_its_source() -> None:
    """kernels.wasm.js records the SHA-256 of the kernels.wat it was built from; a stale
    build (the .wat edited without re-running wasm/build.mjs) fails here."""
    js_dir = VENDOR.parent
    built = (js_dir / "kernels.wasm.js").read_text()
    match = re.search(r'WAT_SHA256 = "([0-9a-f]{64})"', built)
    assert match is not None
    source = (js_dir / "wasm" / "kernels.wat").read_bytes()
    assert hashlib.sha256(source).hexdigest() == match[1]
    wasm = base64.b64decode(re.search(r'WASM_BASE64 =\s*"([A-Za-z0-9+/=]+)"', built)[1])
    assert wasm[:4] == b"\0asm"
