"""POST /api/v1/match: thresholds, distances, dihedral variants, removals, bad input."""

import random

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from hashing.pdq import pdq_dihedral
from portal.cases import services as case_services
from portal.cases.models import SubmittedHash
from portal.cases.services import SubmittedItem
from portal.platforms.models import HashFeedback
from tests.support.factories import case_with_items, random_pdq
from tests.support.platforms import assert_error, platform_client

pytestmark = pytest.mark.django_db

MATCH = reverse("v1:hash-match")


def flip_bits(value: str, count: int, seed: int = 0) -> str:
    bits = random.Random(seed).sample(range(len(value) * 4), count)
    number = int(value, 16)
    for bit in bits:
        number ^= 1 << bit
    return f"{number:0{len(value)}x}"


def match(client, hashes, **extra):
    response = client.post(MATCH, {"hashes": hashes, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_exact_and_near_pdq_hashes_match_with_their_distance(acme):
    case = case_with_items(2).case
    stored = case.hashes.filter(algorithm="pdq").first()
    near, far = flip_bits(stored.value, 10), flip_bits(stored.value, 40)
    results = match(
        acme.client,
        [{"algorithm": "pdq", "value": v} for v in (stored.value, near, far)],
    )
    assert [r["value"] for r in results] == [stored.value, near, far]
    exact, close, none = (r["matches"] for r in results)
    assert [(m["value"], m["distance"]) for m in exact] == [(stored.value, 0)]
    assert [(m["value"], m["distance"]) for m in close] == [(stored.value, 10)]
    assert none == []
    assert results[0]["threshold"] == 31
    assert exact[0]["case_id"].startswith("pc_") and case.number not in str(results)


def test_a_caller_may_only_tighten_the_threshold(acme):
    stored = case_with_items(1).case.hashes.get(algorithm="pdq")
    near = flip_bits(stored.value, 10)
    strict = match(acme.client, [{"algorithm": "pdq", "value": near}], thresholds={"pdq": 5})
    assert strict[0]["matches"] == [] and strict[0]["threshold"] == 5
    response = acme.client.post(
        MATCH,
        {"hashes": [{"algorithm": "pdq", "value": near}], "thresholds": {"pdq": 40}},
        format="json",
    )
    body = assert_error(response, 400, "validation_error")
    assert body["details"]["thresholds"][0]["code"] == "max_value"


def test_digests_match_only_exactly(acme):
    case = case_with_items(1).case
    md5 = case.hashes.get(algorithm="md5").value
    results = match(
        acme.client,
        [{"algorithm": "md5", "value": md5}, {"algorithm": "md5", "value": flip_bits(md5, 1)}],
    )
    assert [m["distance"] for m in results[0]["matches"]] == [0]
    assert results[1]["matches"] == []


def test_removed_hashes_stop_matching_and_new_ones_start(acme):
    first = case_with_items(1).case
    pdq = first.hashes.get(algorithm="pdq").value
    assert match(acme.client, [{"algorithm": "pdq", "value": pdq}])[0]["matches"]
    case_services.case_withdraw(case=first)
    second = case_with_items(1).case
    new = second.hashes.get(algorithm="pdq").value
    phash = second.hashes.get(algorithm="phash").value
    results = match(
        acme.client,
        [
            {"algorithm": "pdq", "value": pdq},
            {"algorithm": "pdq", "value": new},
            {"algorithm": "phash", "value": flip_bits(phash, 3)},
        ],
    )
    assert results[0]["matches"] == []
    assert [m["distance"] for m in results[1]["matches"]] == [0]
    assert [m["distance"] for m in results[2]["matches"]] == [3]


def test_dihedral_variants_find_a_rotated_copy(acme):
    y, x = np.mgrid[0:192, 0:256]
    pixels = np.stack([(x + y) % 256, (x * 2) % 256, (y * 3) % 256], axis=-1)
    image = Image.fromarray(pixels.astype(np.uint8))
    variants, quality = pdq_dihedral(image)
    case_services.case_create(
        items=[
            SubmittedItem(media_kind="image", hashes={"pdq": variants["orig"]}, pdq_quality=quality)
        ]
    )
    rotated, _ = pdq_dihedral(image.rotate(90, expand=True))
    plain = match(acme.client, [{"algorithm": "pdq", "value": rotated["orig"]}])
    assert plain[0]["matches"] == []
    others = [v for name, v in rotated.items() if name != "orig"]
    found = match(
        acme.client, [{"algorithm": "pdq", "value": rotated["orig"], "variants": others}]
    )[0]["matches"]
    assert len(found) == 1 and found[0]["value"] == variants["orig"]
    assert found[0]["query_value"] in others and found[0]["distance"] <= 31


def test_matches_carry_corroboration_counts(acme, other):
    stored = case_with_items(1).case.hashes.get(algorithm="sha256")
    HashFeedback.objects.create(platform=other.platform, submitted_hash=stored, outcome="blocked")
    hit = match(acme.client, [{"algorithm": "sha256", "value": stored.value}])[0]["matches"][0]
    assert hit["feedback"]["blocked"] == 1


def test_a_full_batch_of_a_thousand_is_accepted(acme):
    rng = random.Random(3)
    results = match(acme.client, [{"algorithm": "pdq", "value": random_pdq(rng)}] * 1000)
    assert len(results) == 1000


def test_an_oversize_batch_is_refused_with_its_own_code(acme):
    rng = random.Random(4)
    response = acme.client.post(
        MATCH,
        {"hashes": [{"algorithm": "pdq", "value": random_pdq(rng)}] * 1001},
        format="json",
    )
    body = assert_error(response, 400, "batch_too_large")
    assert body["details"] == {"max_items": 1000, "received": 1001}


GOOD_PDQ = "f" * 32 + "0" * 32


@pytest.mark.parametrize(
    ("item", "field", "code"),
    [
        ({"algorithm": "pdq", "value": "f" * 63}, "value", "bad_hash"),
        ({"algorithm": "pdq", "value": "f" * 65}, "value", "bad_hash"),
        ({"algorithm": "pdq", "value": "g" * 64}, "value", "bad_hash"),
        ({"algorithm": "pdq", "value": "F" * 64}, "value", "bad_hash"),
        ({"algorithm": "md5", "value": GOOD_PDQ}, "value", "bad_hash"),
        ({"algorithm": "sha1", "value": "a" * 40}, "algorithm", "invalid_choice"),
        ({"algorithm": "pdq"}, "value", "required"),
        ({"value": GOOD_PDQ}, "algorithm", "required"),
        ({"algorithm": "pdq", "value": GOOD_PDQ, "variants": ["x"]}, "variants", "bad_hash"),
        (
            {"algorithm": "pdq", "value": GOOD_PDQ, "variants": [GOOD_PDQ] * 8},
            "variants",
            "max_length",
        ),
        ({"algorithm": "pdq", "value": 12}, "value", "bad_hash"),
    ],
)
def test_malformed_hashes_are_400_with_a_field_code(acme, item, field, code):
    response = acme.client.post(MATCH, {"hashes": [item]}, format="json")
    body = assert_error(response, 400, "validation_error")
    errors = body["details"]["hashes"]["0"][field]
    if isinstance(errors, dict):  # a list field: errors by item
        errors = errors["0"]
    assert errors[0]["code"] == code, body


@pytest.mark.parametrize(
    "payload",
    [{}, {"hashes": []}, {"hashes": "pdq"}, {"hashes": [None]}, []],
)
def test_malformed_bodies_are_400(acme, payload):
    response = acme.client.post(MATCH, payload, format="json")
    assert_error(response, 400, "validation_error")


def test_non_json_is_refused(acme):
    response = acme.client.post(MATCH, "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")
    response = acme.client.post(MATCH, "a=b", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


def test_match_needs_its_scope(db):
    limited = platform_client("Feed only", scopes=["feed:read"])
    response = limited.client.post(
        MATCH, {"hashes": [{"algorithm": "pdq", "value": GOOD_PDQ}]}, format="json"
    )
    assert_error(response, 403, "insufficient_scope")


def test_matching_changes_nothing(acme):
    case_with_items(1)
    before = list(SubmittedHash.objects.values_list("pk", "status", "feed_seq"))
    match(acme.client, [{"algorithm": "pdq", "value": GOOD_PDQ}])
    assert list(SubmittedHash.objects.values_list("pk", "status", "feed_seq")) == before


def test_a_batchs_database_queries_do_not_grow_with_its_size(acme):
    # The caller's decoys are read once per batch, not once per query hash (bench/README
    # "Under load": 1,001 queries for a batch of 1,000 bounded HTTP matching).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    case_with_items(3)
    rng = random.Random(11)

    def queries_for(size: int) -> int:
        batch = [{"algorithm": "pdq", "value": random_pdq(rng)} for _ in range(size)]
        batch += [{"algorithm": "md5", "value": f"{rng.getrandbits(128):032x}"}]
        with CaptureQueriesContext(connection) as captured:
            match(acme.client, batch)
        return len(captured)

    queries_for(1)  # the live index's first load
    assert queries_for(200) == queries_for(1)
