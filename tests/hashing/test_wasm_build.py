"""The committed WebAssembly kernels are exactly what the pinned wabt builds from kernels.wat."""

import shutil
import subprocess

from tests.support.services import ROOT, require_service

BUILD = ROOT / "hashing" / "js" / "wasm" / "build.mjs"
COMMITTED = ROOT / "hashing" / "js" / "kernels.wasm.js"


def test_committed_kernels_equal_a_fresh_build(tmp_path):
    require_service(bool(shutil.which("node")), "Node.js")
    require_service((ROOT / "node_modules" / "wabt").is_dir(), "wabt (make test runs npm ci)")
    fresh = tmp_path / "kernels.wasm.js"
    subprocess.run(["node", str(BUILD), str(fresh)], cwd=ROOT, check=True, capture_output=True)
    assert fresh.read_bytes() == COMMITTED.read_bytes(), "run `make wasm` and commit the result"
