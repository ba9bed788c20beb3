"""One contract every registered algorithm passes (python-threatexchange's
``signal_type_test_helper`` habit): a test class per algorithm subclasses
``AlgorithmContract`` and names the algorithm and a few example hashes.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from hashing.algorithms import ALGORITHMS, get_algorithm
from hashing.distance import InvalidHash
from hashing.signals import get_signal


class AlgorithmContract:
    name: ClassVar[str]
    # Well-formed hashes of this algorithm (at least two that differ).
    examples: ClassVar[tuple[str, ...]]

    def test_is_registered_with_a_consistent_length(self) -> None:
        algorithm = get_algorithm(self.name)
        assert algorithm.bits % 64 == 0 or algorithm.bits == 128
        for example in self.examples:
            assert len(example) == algorithm.hex_length

    def test_examples_validate_and_normalise(self) -> None:
        signal = get_signal(self.name)
        for example in self.examples:
            assert signal.validate(example) == example
            assert signal.normalise(f"  {example.upper()}\n") == example

    @pytest.mark.parametrize("mutate", [str.upper, lambda v: v[:-1], lambda v: v + "0"])
    def test_other_shapes_are_refused(self, mutate) -> None:
        signal = get_signal(self.name)
        bad = mutate(self.examples[0].replace("0", "a"))
        if bad != self.examples[0]:
            with pytest.raises(InvalidHash):
                signal.validate(bad)

    def test_a_hash_matches_itself_and_the_threshold_is_the_boundary(self) -> None:
        signal = get_signal(self.name)
        algorithm = signal.algorithm
        example = self.examples[0]
        same = signal.compare(example, example)
        assert (same.match, same.distance) == (True, 0)
        number = int(example, 16)
        at = f"{number ^ ((1 << algorithm.threshold) - 1):0{algorithm.hex_length}x}"
        past = f"{number ^ ((1 << (algorithm.threshold + 1)) - 1):0{algorithm.hex_length}x}"
        assert signal.compare(example, at) == type(same)(match=True, distance=algorithm.threshold)
        assert signal.compare(example, past).match is False

    def test_kind_agrees_with_the_threshold(self) -> None:
        algorithm = get_algorithm(self.name)
        assert algorithm.exact == (algorithm.threshold == 0)
        if algorithm.shared:
            assert algorithm.media_kinds
        else:
            assert not algorithm.stopncii_signals


def registered_names() -> set[str]:
    return set(ALGORITHMS)
