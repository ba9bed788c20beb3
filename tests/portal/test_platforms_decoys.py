"""Leak tracing: per-platform decoys in feeds and snapshots, never matched, traceable."""

import gzip
import json

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from hashing.distance import bit_count, is_valid_hex
from portal.platforms import decoys
from portal.platforms.models import Decoy
from portal.platforms.services import platform_create
from tests.support.factories import case_with_items
from tests.support.staff import verified_login

pytestmark = pytest.mark.django_db


def client_for(created) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.api_key.raw}")
    return client


def test_every_platform_gets_its_own_realistic_decoys():
    first, second = platform_create(name="First"), platform_create(name="Second")
    mine = list(Decoy.objects.filter(platform=first.platform))
    theirs = list(Decoy.objects.filter(platform=second.platform))
    assert len(mine) == len(theirs) == sum(decoys.DECOYS_PER_ALGORITHM.values())
    assert not {d.value for d in mine} & {d.value for d in theirs}
    for decoy in mine:
        assert is_valid_hex(decoy.algorithm, decoy.value)
        if decoy.algorithm == "pdq":
            assert bit_count(decoy.value) == 128 and 70 <= decoy.quality <= 100
        if decoy.algorithm == "phash":
            assert bit_count(decoy.value) == 32
    # Deterministic per platform: asking again creates nothing new.
    assert decoys.decoys_create(platform=first.platform) == []
    assert decoys.decoy_value(platform=first.platform, algorithm="md5", counter=0) in {
        d.value for d in mine
    }


def test_decoys_are_in_their_own_platforms_feed_and_snapshot_only():
    first, second = platform_create(name="First"), platform_create(name="Second")
    case_with_items(1)
    mine = set(Decoy.objects.filter(platform=first.platform).values_list("value", flat=True))
    theirs = set(Decoy.objects.filter(platform=second.platform).values_list("value", flat=True))
    feed = client_for(first).get(reverse("v1:hash-feed")).json()["entries"]
    served = {e["value"] for e in feed}
    assert mine <= served and not theirs & served
    decoy_entry = next(e for e in feed if e["value"] in mine)
    real_entry = next(e for e in feed if e["value"] not in mine)
    assert set(decoy_entry) == set(real_entry) and decoy_entry["op"] == "add"
    response = client_for(first).get(reverse("v1:hash-snapshot"))
    lines = gzip.decompress(b"".join(response.streaming_content)).decode().splitlines()
    snapshot = {json.loads(line).get("value") for line in lines}
    assert mine <= snapshot and not theirs & snapshot


def test_a_platforms_own_decoys_match_for_it_and_for_nobody_else():
    """Probe 2 of issue 9: sending every feed hash to /match must not single decoys out."""
    first, second = platform_create(name="First"), platform_create(name="Second")
    values = list(Decoy.objects.filter(platform=first.platform).values_list("algorithm", "value"))
    answers = {}
    for created in (first, second):
        response = client_for(created).post(
            reverse("v1:hash-match"),
            {"hashes": [{"algorithm": a, "value": v} for a, v in values]},
            format="json",
        )
        assert response.status_code == 200
        answers[created.platform.name] = response.json()["results"]
    for (_, value), result in zip(values, answers["First"], strict=True):
        (hit,) = result["matches"]
        assert hit["value"] == value and hit["distance"] == 0
        assert hit["case_id"].startswith("pc_") and hit["item_id"].startswith("pi_")
    assert all(r["matches"] == [] for r in answers["Second"])


def test_a_decoy_never_matches_a_stored_hash():
    case = case_with_items(3).case
    first = platform_create(name="First").platform
    for decoy in Decoy.objects.filter(platform=first):
        assert not case.hashes.filter(value=decoy.value).exists()
        assert not decoys._matches_real(algorithm=decoy.algorithm, value=decoy.value)


def test_trace_names_the_platform_whose_feed_leaked():
    leaky = platform_create(name="Leaky")
    platform_create(name="Careful")
    case_with_items(2)
    feed = client_for(leaky).get(reverse("v1:hash-feed")).json()["entries"]
    dump = "\n".join(f"{e['algorithm']},{e['value'].upper()}" for e in feed)
    read, traces = decoys.decoys_trace(text=dump)
    assert read == len({e["value"] for e in feed})
    assert [t.platform.name for t in traces] == ["Leaky"]
    assert traces[0].found == traces[0].total == sum(decoys.DECOYS_PER_ALGORITHM.values())
    assert decoys.decoys_trace(text="nothing here")[1] == []


def test_operators_trace_from_the_admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("op", "op@example.org", "pw-123-xyz")
    verified_login(client, user)  # operators sign in with a second factor
    leaky = platform_create(name="Leaky")
    platform_create(name="Careful")
    feed = client_for(leaky).get(reverse("v1:hash-feed")).json()["entries"]
    url = reverse("admin:platforms_platform_trace_leak")
    assert url in client.get(reverse("admin:platforms_platform_changelist")).content.decode()
    page = client.post(url, {"hashes": json.dumps([e["value"] for e in feed])})
    html = page.content.decode()
    assert page.status_code == 200 and "<td>Leaky</td>" in html and "Careful" not in html
    clean = client.post(url, {"hashes": "0" * 64}).content.decode()
    assert "No platform" in clean
