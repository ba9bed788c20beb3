"""Serializer pieces shared by several endpoints: hashes in their strict wire form."""

from __future__ import annotations

from django.core.validators import RegexValidator
from rest_framework import serializers

from hashing.algorithms import SHARED_ALGORITHMS
from hashing.distance import HEX_LENGTHS, is_valid_hex
from portal.platforms.models import HashFeedback

# Documents the wire form in the schema (and refuses other shapes early); the exact
# length per algorithm is checked by `hash_value_check` with hashing.distance.
_LENGTHS = sorted({HEX_LENGTHS[name] for name in SHARED_ALGORITHMS})
HEX_VALIDATOR = RegexValidator(
    "^(?:" + "|".join(f"[0-9a-f]{{{n}}}" for n in _LENGTHS) + ")$",
    message="A hash is 16, 32 or 64 lower-case hexadecimal digits, by algorithm.",
    code="bad_hash",
)


class HashSerializer(serializers.Serializer):
    """`{"algorithm", "value"}` with the value in lower-case hex of the algorithm's length."""

    algorithm = serializers.ChoiceField(choices=SHARED_ALGORITHMS)
    value = serializers.CharField(
        max_length=64,
        trim_whitespace=False,
        validators=[HEX_VALIDATOR],
        help_text="Lower-case hex: 64 digits for pdq and sha256, 32 for md5, 16 for phash/dhash.",
    )

    def validate(self, attrs: dict) -> dict:
        hash_value_check(attrs["algorithm"], attrs["value"], field="value")
        return attrs


def hash_value_check(algorithm: str, value: str, *, field: str) -> None:
    if not is_valid_hex(algorithm, value):
        raise serializers.ValidationError(
            {
                field: serializers.ErrorDetail(
                    f"A {algorithm} hash is exactly {HEX_LENGTHS[algorithm]} lower-case "
                    "hexadecimal digits (0-9, a-f).",
                    code="bad_hash",
                )
            }
        )


class FeedbackCountsSerializer(serializers.Serializer):
    matched_pending_review = serializers.IntegerField()
    blocked = serializers.IntegerField()
    not_violating = serializers.IntegerField()


OUTCOMES = HashFeedback.Outcome.values
