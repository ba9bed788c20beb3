"""Coverage-guided fuzzing of the image decoder with atheris (libFuzzer), run by
tests/fuzz/test_atheris.py in its own process for a bounded time.

Any exception other than hashing.HashingError is a crash; libFuzzer's -timeout
makes an input slower than HANG_SECONDS a failure, and -rss_limit_mb bounds memory.
Usage: python tests/fuzz/atheris_decoder.py -max_total_time=20 -timeout=10 [corpus dir]
"""

import contextlib
import io
import pathlib
import sys

import atheris

with atheris.instrument_imports(include=["hashing"]):
    import hashing

from PIL import Image

# Pillow's decoders are C: the seed corpus (small valid images of each format) lets
# libFuzzer start from real structure.
SEEDS = []
for fmt in ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"]:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 90)).save(buffer, fmt)
    SEEDS.append(buffer.getvalue())


def one_input(data: bytes) -> None:
    with contextlib.suppress(hashing.HashingError):  # the only acceptable failure
        hashing.hash_bytes(data, max_pixels=24_000_000)


if __name__ == "__main__":
    hashing.warm_up()
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    if corpus:
        for n, seed in enumerate(SEEDS):
            (pathlib.Path(corpus[0]) / f"seed{n}").write_bytes(seed)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
