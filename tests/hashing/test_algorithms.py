"""Every registered algorithm passes the shared contract; derived lists follow the registry."""

from __future__ import annotations

import sys

from hashing import algorithms
from hashing.algorithms import ALGORITHMS
from hashing.distance import HEX_LENGTHS, MATCH_THRESHOLDS
from tests.hashing.test_distance import EXAMPLES
from tests.support.algorithm_contract import AlgorithmContract, registered_names


def _examples(name: str) -> tuple[str, ...]:
    first = EXAMPLES[name]
    return (first, f"{int(first, 16) ^ 0b1011:0{len(first)}x}")


class TestPdq(AlgorithmContract):
    name = "pdq"
    examples = _examples("pdq")


class TestPhash(AlgorithmContract):
    name = "phash"
    examples = _examples("phash")


class TestDhash(AlgorithmContract):
    name = "dhash"
    examples = _examples("dhash")


class TestAhash(AlgorithmContract):
    name = "ahash"
    examples = _examples("ahash")


class TestWhash(AlgorithmContract):
    name = "whash"
    examples = _examples("whash")


class TestMd5(AlgorithmContract):
    name = "md5"
    examples = _examples("md5")


class TestSha256(AlgorithmContract):
    name = "sha256"
    examples = _examples("sha256")


def test_every_registered_algorithm_has_a_contract_test() -> None:
    module = sys.modules[__name__]
    tested = {
        cls.name
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, AlgorithmContract)
        and cls is not AlgorithmContract
    }
    assert tested == registered_names()


def test_derived_lists_follow_the_registry() -> None:
    assert {n: a.bits // 4 for n, a in ALGORITHMS.items()} == HEX_LENGTHS
    assert {n: a.threshold for n, a in ALGORITHMS.items()} == MATCH_THRESHOLDS
    assert algorithms.SHARED_ALGORITHMS == ("pdq", "phash", "dhash", "md5", "sha256")
    assert algorithms.SHARED_PERCEPTUAL == ("pdq", "phash", "dhash")
    assert algorithms.SHARED_EXACT == ("md5", "sha256")
    assert algorithms.STOPNCII_SIGNALS == {
        "ImagePDQ": ("pdq", "image"),
        "VideoMD5": ("md5", "video"),
    }
    assert algorithms.stopncii_signal("pdq", "image") == "ImagePDQ"
    assert algorithms.stopncii_signal("md5", "image") is None
