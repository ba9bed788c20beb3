"""The feed never skips or repeats a change while submissions commit concurrently.

This is the classic auto-increment bug: transaction A takes id 5, B takes id 6
and commits first; a consumer that reads 6 moves its cursor past 5 before A
commits and never sees it. Writers here hold their transactions open for
random times after taking feed positions, in many threads on real PostgreSQL,
while a consumer follows the cursor through the API with small pages.
"""

import random
import threading
import time

import pytest
from django.db import connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from portal.cases import services as case_services
from portal.cases.models import Case, SubmittedHash
from portal.platforms import services
from tests.support.factories import SubmittedItemFactory

WRITERS = 8
CASES_PER_WRITER = 12


@pytest.mark.django_db(transaction=True)
def test_consumer_sees_every_committed_change_exactly_once(postgres_database):
    platform = services.platform_create(name="Follower")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {platform.api_key.raw}")
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            mine: list[Case] = []
            for _ in range(CASES_PER_WRITER):
                with transaction.atomic():
                    created = case_services.case_create(
                        items=SubmittedItemFactory.build_batch(rng.randint(1, 3), rng=rng)
                    )
                    # Hold the transaction (and the feed positions) open a while,
                    # so commits would land out of order if positions allowed it.
                    time.sleep(rng.uniform(0, 0.03))
                mine.append(created.case)
                if rng.random() < 0.3:
                    with transaction.atomic():
                        case_services.case_withdraw(case=rng.choice(mine))
                        time.sleep(rng.uniform(0, 0.02))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    watcher = threading.Thread(target=lambda: [t.join() for t in threads] and None)
    watcher.start()

    seen: list[dict] = []
    cursor = None
    polls = 0
    finished_before_poll = False
    while True:
        finished_before_poll = not watcher.is_alive()
        params = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        response = client.get(reverse("v1:hash-feed"), params)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += body["entries"]
        cursor = body["cursor"]
        polls += 1
        # Stop only after a poll that started after every writer had finished
        # and that found nothing more.
        if finished_before_poll and not body["has_more"] and not body["entries"]:
            break
        if not body["has_more"]:
            time.sleep(0.005)
    assert not errors, errors

    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs), "the feed went backwards"
    assert len(seqs) == len(set(seqs)), "a position was served twice"

    decoys = set(platform.platform.decoys.values_list("value", flat=True))
    served = {(e["algorithm"], e["value"], e["seq"], e["op"]) for e in seen}
    # Every hash's current state (its latest change) was served: nothing skipped.
    rows = list(SubmittedHash.objects.values_list("algorithm", "value", "feed_seq", "status"))
    assert len(rows) > WRITERS * CASES_PER_WRITER * 4
    for algorithm, value, seq, status in rows:
        op = "add" if status == "active" else "remove"
        assert (algorithm, value, seq, op) in served, f"skipped {algorithm} at {seq}"
    # Replaying the feed gives exactly the active set, and no add or remove
    # is served for a hash twice.
    state: set[tuple[str, str]] = set()
    applied: set[tuple[str, str, str]] = set()
    for entry in seen:
        key = (entry["algorithm"], entry["value"])
        assert (*key, entry["op"]) not in applied, f"double-applied {entry}"
        applied.add((*key, entry["op"]))
        if entry["value"] in decoys:
            continue
        (state.add if entry["op"] == "add" else state.discard)(key)
    active = set(SubmittedHash.objects.filter(status="active").values_list("algorithm", "value"))
    assert state == active
    assert polls > 10  # the consumer really raced the writers


@pytest.mark.django_db(transaction=True)
def test_the_classic_interleaving_cannot_skip_an_entry(postgres_database):
    """A takes positions and stays open; B commits later positions; the consumer polls.

    With auto-increment ids B would be visible first, the consumer's cursor would
    pass A's positions, and A's hashes would never be served. Here B waits for A.
    """
    platform = services.platform_create(name="Follower")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {platform.api_key.raw}")
    feed = reverse("v1:hash-feed")
    cursor = client.get(feed).json()["cursor"]

    a_allocated, a_release, b_done = threading.Event(), threading.Event(), threading.Event()
    created: dict[str, Case] = {}
    errors: list[BaseException] = []

    def transaction_a() -> None:
        try:
            with transaction.atomic():
                created["a"] = case_services.case_create(
                    items=SubmittedItemFactory.build_batch(1)
                ).case
                a_allocated.set()
                a_release.wait(timeout=30)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def transaction_b() -> None:
        try:
            created["b"] = case_services.case_create(items=SubmittedItemFactory.build_batch(1)).case
            b_done.set()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    first = threading.Thread(target=transaction_a)
    first.start()
    assert a_allocated.wait(timeout=30)
    second = threading.Thread(target=transaction_b)
    second.start()
    # B queues behind A's lock on the feed counter instead of committing first.
    assert not b_done.wait(timeout=1.0)
    page = client.get(feed, {"cursor": cursor}).json()
    assert page["entries"] == []  # A's positions are taken but not visible yet
    cursor = page["cursor"]
    a_release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert not errors, errors
    assert b_done.is_set()

    entries = client.get(feed, {"cursor": cursor}).json()["entries"]
    served = [e["value"] for e in entries]
    a_values = [h.value for h in created["a"].hashes.order_by("feed_seq")]
    b_values = [h.value for h in created["b"].hashes.order_by("feed_seq")]
    assert served == a_values + b_values  # nothing skipped, A before B
