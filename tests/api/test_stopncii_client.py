"""The real threatexchange StopNCII client against a live server.

`threatexchange` from PyPI (its `StopNCIIAPI`) talks to our exchange over HTTP
exactly as it talks to api.stopncii.org; only the base URL differs. The
consumer below applies records the way the contract says (a later record for
the same signal type and hash replaces the earlier one; Withdrawn and Deleted
mean delete), so the assertions are about what a platform ends up holding.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
from datetime import timedelta

import pytest
import requests
from django.db import connections

from portal.cases import services as cases
from portal.cases.models import SubmittedHash
from portal.cases.positions import feed_head
from portal.platforms import pseudonyms
from portal.platforms import services as platforms
from portal.platforms.models import Decoy, Platform
from portal.platforms.selectors import case_distribution
from portal.platforms.services import SCOPE_STOPNCII
from portal.platforms.stopncii import SCOPE_STOPNCII_SUBMIT
from tests.support.factories import SubmittedItemFactory, random_pdq

if importlib.util.find_spec("threatexchange") is None:
    # Part of the dev extra (pyproject.toml), with its own dependencies; missing under CI
    # is a failure.
    _missing = "threatexchange (the dev extra): make install-dev, or pip install -e '.[dev]'"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{_missing} is required under CI=true", pytrace=False)
    pytest.skip(_missing, allow_module_level=True)

from threatexchange.exchanges.clients.stopncii import api as stopncii_api

StopNCIIAPI = stopncii_api.StopNCIIAPI
SignalType = stopncii_api.StopNCIISignalType
CaseStatus = stopncii_api.StopNCIICaseStatus
FeedbackValue = stopncii_api.StopNCIICSPFeedbackValue
Endpoint = stopncii_api.StopNCIIEndpoint

pytestmark = pytest.mark.django_db(transaction=True)

DELETE = (CaseStatus.Withdrawn, CaseStatus.Deleted)


@pytest.fixture(autouse=True)
def live_server_resources(settings, monkeypatch) -> None:
    """Keep the live server's request threads from outliving their requests' resources.

    Each request runs in its own thread. With persistent connections
    (CONN_MAX_AGE) a thread parked on a keep-alive socket would hold a database
    session past the test, and Django's Redis cache opens a socket pool per
    thread that is never closed; both break the teardown. The behaviour under
    test doesn't depend on either.
    """
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def client_for(live_server, created: platforms.PlatformCreated, fn_key: str | None = None):
    fn = fn_key or created.stopncii_function_key.raw
    return StopNCIIAPI(
        created.stopncii_subscription_key.raw,
        fn,
        additional_function_keys={Endpoint.SubmitFeedback: fn, Endpoint.SubmitHashes: fn},
        base_url_override=f"{live_server.url}/api/stopncii/v1",
    )


def decoys_of(platform: Platform) -> set[tuple[SignalType, str]]:
    """The platform's leak-tracing decoys that this exchange carries (if it has any)."""
    decoys = Decoy.objects.filter(platform=platform)
    return {
        (SignalType.ImagePDQ, v)
        for v in decoys.filter(algorithm="pdq").values_list("value", flat=True)
    } | {
        (SignalType.VideoMD5, v)
        for v in decoys.filter(algorithm="md5", media_kind="video").values_list("value", flat=True)
    }


class Consumer:
    """What a platform holds: (signal type, hash) -> record, minus deletions."""

    def __init__(self, api, platform: Platform) -> None:
        self.api = api
        self.decoys = decoys_of(platform)
        self.held: dict[tuple[SignalType, str], object] = {}
        self.checkpoint = StopNCIIAPI.DEFAULT_START_TIME
        self.seen: list[tuple[SignalType, str, CaseStatus]] = []

    @property
    def real(self) -> dict:
        """What is held, less the platform's decoys."""
        return {k: v for k, v in self.held.items() if k not in self.decoys}

    @property
    def seen_real(self) -> list:
        return [entry for entry in self.seen if entry[:2] not in self.decoys]

    def apply(self, response) -> None:
        for record in response.hashRecords:
            key = (record.signalType, record.hashValue)
            self.seen.append((*key, record.hashStatus))
            if record.hashStatus in DELETE:
                self.held.pop(key, None)
            else:
                self.held[key] = record
        # What HMA's adapter stores after every page.
        self.checkpoint = response.nextSetTimestamp

    def fetch(self) -> None:
        self.seen = []
        for response in self.api.fetch_hashes_iter(start_timestamp=self.checkpoint):
            self.apply(response)

    def fetch_paged(self, page_size: int, between_pages=None) -> int:
        self.seen = []
        pages, token, more = 0, "", True
        while more:
            response = self.api.fetch_hashes(
                page_size=page_size, start_timestamp=self.checkpoint, next_page=token
            )
            self.apply(response)
            pages += 1
            token, more = response.nextPageToken or "", response.hasMoreRecords
            if between_pages is not None:
                between_pages(pages)
        return pages


def video_item(rng: random.Random) -> cases.SubmittedItem:
    return cases.SubmittedItem(
        media_kind=SubmittedHash.MediaKind.VIDEO,
        hashes={"md5": f"{rng.getrandbits(128):032x}", "sha256": f"{rng.getrandbits(256):064x}"},
    )


def exchanged(case) -> set[tuple[SignalType, str]]:
    """What the exchange should carry of a case: active PDQ and video MD5."""
    keys = set()
    for row in case.hashes.filter(status=SubmittedHash.Status.ACTIVE):
        if row.algorithm == "pdq":
            keys.add((SignalType.ImagePDQ, row.value))
        elif row.algorithm == "md5" and row.media_kind == "video":
            keys.add((SignalType.VideoMD5, row.value))
    return keys


def test_full_fetch_incremental_withdrawal_and_feedback(live_server):
    rng = random.Random(6)
    acme = platforms.platform_create(name="Acme")
    other = platforms.platform_create(name="Other")
    items_a = SubmittedItemFactory.build_batch(3, rng=rng)
    case_a = cases.case_create(items=items_a).case
    case_b = cases.case_create(
        items=[*SubmittedItemFactory.build_batch(1, rng=rng), video_item(rng)]
    ).case
    # Case C holds the same image as case A: withdrawing C must not remove it.
    shared = SubmittedItemFactory.build(rng=rng, hashes={"pdq": items_a[0].hashes["pdq"]})
    case_c = cases.case_create(items=[shared]).case

    consumer = Consumer(client_for(live_server, acme), acme.platform)
    pages = consumer.fetch_paged(page_size=2)
    assert pages >= 3
    expected = exchanged(case_a) | exchanged(case_b) | exchanged(case_c)
    assert set(consumer.held) == expected | consumer.decoys
    # One record per feed entry: the shared hash once per case that added it.
    assert len(consumer.seen_real) == len(expected) + 1
    assert {(s, h) for s, h, _ in consumer.seen_real} == expected
    shared_record = consumer.held[(SignalType.ImagePDQ, items_a[0].hashes["pdq"])]
    assert shared_record.hashStatus == CaseStatus.Active
    assert len(shared_record.caseNumbers) == 2
    assert set(shared_record.caseNumbers.values()) == {CaseStatus.Active}
    # Pseudonymous per-platform case ids, never the victim's case number.
    victim_numbers = {case_a.number, case_b.number, case_c.number}
    for record in consumer.held.values():
        for case_id in record.caseNumbers:
            assert case_id.startswith("pc_") and case_id not in victim_numbers
    acme_ids = {cid for r in consumer.real.values() for cid in r.caseNumbers}
    other_consumer = Consumer(client_for(live_server, other), other.platform)
    other_consumer.fetch()
    other_ids = {cid for r in other_consumer.real.values() for cid in r.caseNumbers}
    assert len(acme_ids) == len(other_ids) == 3 and not acme_ids & other_ids
    # The victim's status page counts the platform as having received the case.
    acme_platform = Platform.objects.get(pk=acme.platform.pk)
    assert acme_platform.fetched_seq == feed_head()
    assert acme_platform.fetched_at is not None
    assert case_distribution(case=case_a).platforms_received == 2

    # Incremental: a new case, a withdrawn case, a withdrawn image, a
    # quarantined hash, and the withdrawal of the case sharing a hash.
    case_d = cases.case_create(items=SubmittedItemFactory.build_batch(2, rng=rng)).case
    b_keys = exchanged(case_b)
    cases.case_withdraw(case=case_b)
    a_rows = list(case_a.hashes.filter(algorithm="pdq").order_by("pk"))
    cases.item_withdraw(case=case_a, item_id=a_rows[1].item_id)
    cases.hashes_quarantine(hashes=[a_rows[2]])
    cases.case_withdraw(case=case_c)

    consumer.fetch()
    seen_status = {(s, h): st for s, h, st in consumer.seen}
    for key in b_keys:
        assert seen_status[key] == CaseStatus.Withdrawn
    assert seen_status[(SignalType.ImagePDQ, a_rows[1].value)] == CaseStatus.Withdrawn
    assert seen_status[(SignalType.ImagePDQ, a_rows[2].value)] == CaseStatus.Deleted
    shared_key = (SignalType.ImagePDQ, items_a[0].hashes["pdq"])
    assert seen_status[shared_key] == CaseStatus.Active
    assert consumer.held[shared_key].caseNumbers == {
        pseudonyms.pseudonymous_case_id(
            platform=acme.platform, case_id=case_a.pk
        ): CaseStatus.Active,
        pseudonyms.pseudonymous_case_id(platform=acme.platform, case_id=case_c.pk): (
            CaseStatus.Withdrawn
        ),
    }
    # What the platform holds is exactly what is active now.
    assert set(consumer.real) == exchanged(case_a) | exchanged(case_d)
    assert exchanged(case_a) == {shared_key}

    # An idle poll changes nothing (the checkpoint second may be re-sent, as
    # whole-state records that don't alter what is held).
    before = dict(consumer.held)
    consumer.fetch()
    assert set(consumer.held) == set(before)
    for signal_type, value, status in consumer.seen:
        assert (status in DELETE) == ((signal_type, value) not in before)

    # Feedback through the real client shows on the victim's case.
    d_pdq = sorted(v for s, v in exchanged(case_d))
    consumer.api.submit_feedback(SignalType.ImagePDQ, d_pdq[0], FeedbackValue.Blocked)
    consumer.api.submit_feedback(SignalType.ImagePDQ, d_pdq[1], FeedbackValue.PendingReview)
    consumer.api.submit_feedbacks(
        {
            (SignalType.ImagePDQ, d_pdq[1]): stopncii_api.StopNCIICSPFeedback(
                FeedbackValue.NotBlocked
            )
        }
    )
    distribution = case_distribution(case=case_d)
    assert distribution.feedback == {"blocked": 1, "not_violating": 1, "matched_pending_review": 0}
    assert case_distribution(case=case_a).feedback["blocked"] == 0

    # Acme sees its own verdicts by name; Other sees them only as anonymous counts.
    acme_view = Consumer(consumer.api, acme.platform)
    acme_view.fetch()
    mine = {
        fb.feedbackValue: fb.source
        for fb in acme_view.held[(SignalType.ImagePDQ, d_pdq[0])].CSPFeedbacks
    }
    assert mine == {FeedbackValue.Blocked: "Acme"}
    other_view = Consumer(client_for(live_server, other), other.platform)
    other_view.fetch()
    theirs = other_view.held[(SignalType.ImagePDQ, d_pdq[1])].CSPFeedbacks
    assert [(fb.feedbackValue, fb.source) for fb in theirs] == [(FeedbackValue.NotBlocked, "")]


def test_first_fetch_sends_no_removals_and_later_fetches_send_all(live_server):
    rng = random.Random(7)
    gone = cases.case_create(items=SubmittedItemFactory.build_batch(2, rng=rng)).case
    cases.case_withdraw(case=gone)
    kept = cases.case_create(items=SubmittedItemFactory.build_batch(1, rng=rng)).case
    newcomer = platforms.platform_create(name="Newcomer")
    consumer = Consumer(client_for(live_server, newcomer), newcomer.platform)
    consumer.fetch()
    # A platform that never held the withdrawn hashes is not told they existed.
    assert {(s, h) for s, h, _ in consumer.seen_real} == exchanged(kept)
    cases.case_withdraw(case=kept)
    consumer.fetch()
    assert consumer.real == {}
    assert {st for _, _, st in consumer.seen_real} == {CaseStatus.Withdrawn}


def test_page_token_chain_never_misses_or_repeats_while_cases_commit(live_server):
    rng = random.Random(8)
    # The first case is on page 1; it is withdrawn after page 3.
    first = cases.case_create(items=SubmittedItemFactory.build_batch(1, rng=rng)).case
    for _ in range(4):
        cases.case_create(items=SubmittedItemFactory.build_batch(2, rng=rng))
    late_cases = []
    acme = platforms.platform_create(name="Acme")
    consumer = Consumer(client_for(live_server, acme), acme.platform)

    def between_pages(page: int) -> None:
        # Submissions and a withdrawal commit while the chain is being read.
        if page in (2, 5):
            late_cases.append(
                cases.case_create(items=SubmittedItemFactory.build_batch(2, rng=rng)).case
            )
        if page == 3:
            cases.case_withdraw(case=first)

    consumer.fetch_paged(page_size=1, between_pages=between_pages)
    active = SubmittedHash.objects.filter(status="active", algorithm="pdq")
    assert set(consumer.real) == {
        (SignalType.ImagePDQ, v) for v in active.values_list("value", flat=True)
    }
    # One record per feed entry: the withdrawn hash twice (added, then
    # withdrawn), everything else exactly once.
    first_key = (SignalType.ImagePDQ, first.hashes.get(algorithm="pdq").value)
    counts: dict = {}
    for s, h, _ in consumer.seen:
        counts[(s, h)] = counts.get((s, h), 0) + 1
    assert counts.pop(first_key) == 2
    assert set(counts.values()) == {1}
    assert all(exchanged(c) <= set(consumer.held) for c in late_cases)
    assert consumer.decoys <= set(consumer.held)


def test_submit_hashes_needs_the_submit_scope(live_server):
    rng = random.Random(9)
    partner = platforms.platform_create(name="Partner")
    pdq = random_pdq(rng)
    plain = client_for(live_server, partner)
    with pytest.raises(requests.HTTPError) as refused:
        plain.submit_hash(SignalType.ImagePDQ, pdq)
    assert refused.value.response.status_code == 403
    assert refused.value.response.json()["code"] == "insufficient_scope"
    # The client leaves an error response's connection open; close it so the
    # live server's request thread (and its database session) ends.
    refused.value.response.close()
    assert not SubmittedHash.objects.exists()

    submit_key = platforms.api_key_issue(
        platform=partner.platform,
        kind="stopncii_fn",
        scopes=[SCOPE_STOPNCII, SCOPE_STOPNCII_SUBMIT],
    ).raw
    trusted = client_for(live_server, partner, fn_key=submit_key)
    # The real client sends signalType as "StopNCIISignalType.ImagePDQ".
    trusted.submit_hashes(
        {
            (SignalType.ImagePDQ, pdq): stopncii_api.StopNCIICSPFeedback(FeedbackValue.Blocked),
            (SignalType.VideoMD5, "ab" * 16): stopncii_api.StopNCIICSPFeedback(FeedbackValue.None_),
        }
    )
    row = SubmittedHash.objects.get(value=pdq)
    assert (row.algorithm, row.media_kind, row.status) == ("pdq", "image", "active")
    assert SubmittedHash.objects.get(value="ab" * 16).media_kind == "video"
    assert case_distribution(case=row.case).feedback["blocked"] == 1

    # Other platforms receive it like any victim's hash.
    reader_platform = platforms.platform_create(name="Reader")
    reader = Consumer(client_for(live_server, reader_platform), reader_platform.platform)
    reader.fetch()
    assert set(reader.real) == {(SignalType.ImagePDQ, pdq), (SignalType.VideoMD5, "ab" * 16)}


def test_no_response_names_a_victim_case_number(live_server):
    rng = random.Random(10)
    created = cases.case_create(items=SubmittedItemFactory.build_batch(2, rng=rng))
    acme = platforms.platform_create(name="Acme")
    response = requests.get(
        f"{live_server.url}/api/stopncii/v1/FetchHashes",
        params={"startTimestamp": 10, "pageSize": 10},
        headers={
            "x-functions-key": acme.stopncii_function_key.raw,
            "Ocp-Apim-Subscription-Key": acme.stopncii_subscription_key.raw,
        },
        timeout=30,
    )
    assert response.status_code == 200
    text = json.dumps(response.json())
    assert created.case.number not in text


def test_token_chain_follows_concurrent_out_of_order_commits(live_server):
    """Writers commit cases and withdrawals concurrently (and so out of order of
    their start) while the real client follows the token chain: what the platform
    ends up holding is exactly the active set, and no feed entry arrives twice."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks (run with scripts/with-services)")
    import threading

    acme = platforms.platform_create(name="Acme")
    consumer = Consumer(client_for(live_server, acme), acme.platform)
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            mine = []
            for n in range(8):
                items = SubmittedItemFactory.build_batch(rng.randint(1, 2), rng=rng)
                mine.append(cases.case_create(items=items).case)
                if n % 3 == 2:
                    cases.case_withdraw(case=mine.pop(0))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    token = ""
    seen: list[tuple] = []

    def page() -> bool:
        nonlocal token
        response = consumer.api.fetch_hashes(page_size=2, start_timestamp=10, next_page=token)
        consumer.apply(response)
        seen.extend((r.signalType, r.hashValue, r.hashStatus) for r in response.hashRecords)
        token = response.nextPageToken
        return response.hasMoreRecords

    while any(thread.is_alive() for thread in threads):
        page()
    for thread in threads:
        thread.join()
    assert not errors, errors
    while page():
        pass
    active = SubmittedHash.objects.filter(status="active", algorithm="pdq")
    assert set(consumer.real) == {
        (SignalType.ImagePDQ, v) for v in active.values_list("value", flat=True)
    }
    # Each (hash, status) at most once: an add, and for a withdrawn hash one removal.
    assert len(seen) == len(set(seen))
    withdrawn = SubmittedHash.objects.filter(status="withdrawn", algorithm="pdq")
    assert withdrawn.exists()
    for value in withdrawn.values_list("value", flat=True):
        # Sent as an add and then a removal; or only as a removal (added and
        # withdrawn before the chain reached it); or not at all (withdrawn before
        # this first fetch began: the platform is not told it existed).
        statuses = [st for _, h, st in seen if h == value]
        assert statuses in ([CaseStatus.Active, CaseStatus.Withdrawn], [CaseStatus.Withdrawn], [])


# Details real clients depend on ------------------------------------------------------


def test_next_set_timestamp_never_decreases_from_page_to_page(live_server):
    """HMA and the threatexchange CLI assert "checkpoint time rewound?" when a page's
    `nextSetTimestamp` is older than the previous one's (cli/fetch_cmd.py). Row times can
    run against feed order: a withdrawal re-times an old row, and a row's time is taken
    before it gets its feed position. Here later positions carry older times, page by
    page and across a restart from the stored checkpoint, as the stock adapter runs it."""
    from threatexchange.exchanges.collab_config import CollaborationConfigBase
    from threatexchange.exchanges.impl.stop_ncii_api import StopNCIISignalExchangeAPI

    rng = random.Random(11)
    created = [cases.case_create(items=SubmittedItemFactory.build_batch(1, rng=rng)).case]
    created += [cases.case_create(items=SubmittedItemFactory.build_batch(1, rng=rng)).case]
    rows = list(SubmittedHash.objects.filter(algorithm="pdq").order_by("feed_seq"))
    # Times against feed order: the newest position is the oldest change.
    for age, row in enumerate(rows):
        SubmittedHash.objects.filter(pk=row.pk).update(
            updated_at=row.updated_at - timedelta(minutes=5 * (age + 1))
        )
    acme = platforms.platform_create(name="Acme")
    api = client_for(live_server, acme)

    newest_served = 0

    def chain(start: int) -> list[int]:
        nonlocal newest_served
        stamps, token, more = [], "", True
        while more:
            response = api.fetch_hashes(page_size=1, start_timestamp=start, next_page=token)
            stamps.append(response.nextSetTimestamp)
            newest_served = max(
                [newest_served, *(r.lastModtimestamp for r in response.hashRecords)]
            )
            token, more = response.nextPageToken or "", response.hasMoreRecords
        return stamps

    first = chain(StopNCIIAPI.DEFAULT_START_TIME)
    assert len(first) >= len(rows) and first == sorted(first)
    # The checkpoint is the newest record time served (the decoys are the newest here).
    assert first[-1] == newest_served

    # A withdrawal re-times the oldest case; a new case arrives with an old time.
    cases.case_withdraw(case=created[0])
    late = cases.case_create(items=SubmittedItemFactory.build_batch(1, rng=rng)).case
    late.hashes.update(updated_at=rows[0].updated_at - timedelta(hours=1))
    second = chain(first[-1])
    assert second[0] >= first[-1] and second == sorted(second)

    # The stock adapter, checked as the CLI's fetch checks it, from the stored checkpoint.
    adapter = StopNCIISignalExchangeAPI(
        CollaborationConfigBase("StopNCII", "stopncii", enabled=True), api
    )
    checkpoint = None
    for _ in range(2):
        for delta in adapter.fetch_iter([], checkpoint):
            if checkpoint is not None:
                assert checkpoint.get_progress_timestamp() <= delta.checkpoint.update_time
            checkpoint = delta.checkpoint
    assert checkpoint.update_time >= second[-1]


def test_pdq_values_are_always_64_lower_case_hex_so_pytx_keeps_every_one(live_server):
    """pytx drops a PDQ that isn't ^[0-9a-f]{64}$ with only a log line
    (SignalExchangeAPIWithSimpleUpdates.naive_convert_to_signal_type), so a victim's hash
    would silently never be blocked. Leading zeros, a partner's upper-case submission and
    the platform's decoys all arrive in that form and all reach pytx's index."""
    from threatexchange.exchanges.collab_config import CollaborationConfigBase
    from threatexchange.exchanges.impl.stop_ncii_api import StopNCIISignalExchangeAPI
    from threatexchange.signal_type.pdq.signal import PdqSignal

    rng = random.Random(12)
    leading_zeros = "0000" + random_pdq(rng)[4:]
    cases.case_create(
        items=[
            SubmittedItemFactory.build(rng=rng, hashes={"pdq": leading_zeros}),
            *SubmittedItemFactory.build_batch(2, rng=rng),
        ]
    )
    partner = platforms.platform_create(name="Partner")
    submit_key = platforms.api_key_issue(
        platform=partner.platform,
        kind="stopncii_fn",
        scopes=[SCOPE_STOPNCII, SCOPE_STOPNCII_SUBMIT],
    ).raw
    shouted = random_pdq(rng).upper()
    client_for(live_server, partner, fn_key=submit_key).submit_hash(SignalType.ImagePDQ, shouted)

    acme = platforms.platform_create(name="Acme")
    consumer = Consumer(client_for(live_server, acme), acme.platform)
    consumer.fetch()
    pdqs = [value for signal_type, value in consumer.held if signal_type == SignalType.ImagePDQ]
    stored = set(SubmittedHash.objects.filter(algorithm="pdq").values_list("value", flat=True))
    assert {leading_zeros, shouted.lower()} <= set(pdqs)
    assert set(pdqs) == stored | {v for s, v in consumer.decoys if s == SignalType.ImagePDQ}
    assert all(re.fullmatch("[0-9a-f]{64}", value) for value in pdqs)

    adapter = StopNCIISignalExchangeAPI(
        CollaborationConfigBase("StopNCII", "stopncii", enabled=True), consumer.api
    )
    fetched: dict = {}
    for delta in adapter.fetch_iter([PdqSignal], None):
        fetched.update(delta.updates)
    indexed = StopNCIISignalExchangeAPI.naive_convert_to_signal_type(
        [PdqSignal], adapter.collab, fetched
    )
    assert set(indexed[PdqSignal]) == set(pdqs)


def test_submit_hashes_accepts_the_qualified_signal_type_the_real_client_sends(
    live_server, monkeypatch
):
    """threatexchange 1.2's submit_hashes sends `str(enum)`, "StopNCIISignalType.ImagePDQ",
    as signalType; StopNCII.org accepts it, so must we (and the plain name too)."""
    sent: list[dict] = []
    post = requests.Session.post

    def recording_post(self, url, *args, **kwargs):
        sent.append(kwargs.get("json") or {})
        return post(self, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", recording_post)
    rng = random.Random(13)
    partner = platforms.platform_create(name="Partner")
    submit_key = platforms.api_key_issue(
        platform=partner.platform,
        kind="stopncii_fn",
        scopes=[SCOPE_STOPNCII, SCOPE_STOPNCII_SUBMIT],
    ).raw
    trusted = client_for(live_server, partner, fn_key=submit_key)
    pdq, md5 = random_pdq(rng), f"{rng.getrandbits(128):032x}"
    trusted.submit_hashes(
        {
            (SignalType.ImagePDQ, pdq): stopncii_api.StopNCIICSPFeedback(FeedbackValue.Blocked),
            (SignalType.VideoMD5, md5): stopncii_api.StopNCIICSPFeedback(FeedbackValue.None_),
        }
    )
    # What went over the wire (if a release fixes the enum, this says so).
    assert [r["signalType"] for r in sent[-1]["hashRecords"]] == [
        "StopNCIISignalType.ImagePDQ",
        "StopNCIISignalType.VideoMD5",
    ]
    assert SubmittedHash.objects.get(value=pdq).media_kind == "image"
    assert SubmittedHash.objects.get(value=md5).media_kind == "video"

    plain = random_pdq(rng)
    response = requests.post(
        f"{live_server.url}/api/stopncii/v1/SubmitHashes",
        json={"count": 1, "hashRecords": [{"signalType": "ImagePDQ", "hashValue": plain}]},
        headers={
            "x-functions-key": submit_key,
            "Ocp-Apim-Subscription-Key": partner.stopncii_subscription_key.raw,
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert SubmittedHash.objects.get(value=plain).algorithm == "pdq"
    for wrong in ("StopNCIISignalType.VideoTMK", "ImagePdq", "Other.ImagePDQ"):
        refused = requests.post(
            f"{live_server.url}/api/stopncii/v1/SubmitHashes",
            json={"count": 1, "hashRecords": [{"signalType": wrong, "hashValue": plain}]},
            headers={
                "x-functions-key": submit_key,
                "Ocp-Apim-Subscription-Key": partner.stopncii_subscription_key.raw,
            },
            timeout=30,
        )
        assert refused.status_code == 400, wrong
        assert refused.json()["code"] == "validation_error"
