"""The atheris (libFuzzer) run over the image decoder, bounded to ATHERIS_SECONDS.

It runs in its own process (libFuzzer owns the process it fuzzes); a crash, an
input slower than HANG_SECONDS or memory over the RSS limit fails it.
"""

import subprocess
import sys

import pytest

from tests.fuzz.support import HANG_SECONDS, tally
from tests.support.services import ROOT, require_service

ATHERIS_SECONDS = 15

# libFuzzer's RSS figure is getrusage's peak, which Linux carries across execve: a child
# exec'd straight from this pytest process starts at pytest's own peak (over 3 GB late in
# the suite) and is killed as out of memory before its first input. A child forked by a
# small relay process starts from the relay's peak instead, so the limit bounds the
# fuzzer's own memory.
_RELAY = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def test_coverage_guided_fuzzing_of_the_decoder_finds_no_crash_or_hang(tmp_path):
    try:
        import atheris  # noqa: F401
    except ImportError:
        require_service(False, "atheris (the dev extra)")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _RELAY,
            sys.executable,
            str(ROOT / "tests" / "fuzz" / "atheris_decoder.py"),
            f"-max_total_time={ATHERIS_SECONDS}",
            f"-timeout={HANG_SECONDS}",
            "-rss_limit_mb=3000",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=ATHERIS_SECONDS + 120,
    )
    runs = [line for line in result.stderr.splitlines() if line.startswith("Done ")]
    tally["decoder: atheris"]["inputs"] = int(runs[0].split()[1]) if runs else 0
    assert result.returncode == 0, result.stderr[-3000:]
    assert runs, result.stderr[-2000:]


pytestmark = pytest.mark.filterwarnings("ignore")
