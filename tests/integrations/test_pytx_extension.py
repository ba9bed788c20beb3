"""The pytx extension without a server: credentials, fetch merging, opinions, feedback.

A fake client serves feed pages, so these run in milliseconds and pin the behaviours
the CLI test (test_pytx_cli.py) exercises end to end.
"""

import pickle

import pytest

from tests.integrations import require_pytx_module

require_pytx_module()

from threatexchange.exchanges import fetch_state as state  # noqa: E402
from threatexchange.exchanges.auth import SignalExchangeAPIInvalidAuthException  # noqa: E402
from threatexchange.signal_type.md5 import VideoMD5Signal  # noqa: E402
from threatexchange.signal_type.pdq.signal import PdqSignal  # noqa: E402
from threatexchange.signal_type.sha256 import VideoSHA256Signal  # noqa: E402
from threatexchange.utils import dataclass_json  # noqa: E402

from takeback_pytx import (  # noqa: E402
    TX_MANIFEST,
    TakebackCheckpoint,
    TakebackCollabConfig,
    TakebackCredentials,
    TakebackRecord,
    TakebackSignalExchangeAPI,
)
from takeback_pytx.client import FeedPage, api_root  # noqa: E402

PDQ_A = "a" * 64
PDQ_B = "b" * 64
SIGNAL_TYPES = [PdqSignal, VideoMD5Signal, VideoSHA256Signal]
Category = state.AggregateSignalOpinionCategory


def entry(seq, value, *, op="add", case="pc_1", item="pi_1", algorithm="pdq", **extra):
    return {
        "seq": seq,
        "op": op,
        "algorithm": algorithm,
        "value": value,
        "media_kind": extra.pop("media_kind", "image"),
        "quality": 100 if algorithm == "pdq" else None,
        "status": "active" if op == "add" else "withdrawn",
        "case_id": case,
        "item_id": item,
        "changed_at": f"2026-12-01T08:00:{seq:02d}Z",
        "feedback": {"blocked": 0, "not_violating": 0, "matched_pending_review": 0, **extra},
    }


class FakeClient:
    def __init__(self, pages):
        self.pages = list(pages)  # FeedPage, or None for a 304
        self.requests, self.acknowledged, self.reports = [], [], []

    def feed_page(self, *, cursor, limit, etag=""):
        self.requests.append((cursor, etag))
        return self.pages.pop(0)

    def acknowledge(self, *, cursor):
        self.acknowledged.append(cursor)
        return {}

    def feedback(self, reports):
        self.reports.extend(reports)
        return [{**r, "status": "recorded"} for r in reports]


def page(entries, position, *, has_more=False, etag='W/"e"'):
    return FeedPage(entries, f"c{position}", position, has_more, etag)


def exchange(pages):
    return TakebackSignalExchangeAPI(TakebackCollabConfig(name="Takeback"), FakeClient(pages))


def fetch(api, held, checkpoint=None):
    """Run fetch_iter the way the CLI does: merge every delta in memory."""
    for delta in api.fetch_iter(SIGNAL_TYPES, checkpoint):
        TakebackSignalExchangeAPI.naive_fetch_merge(held, delta.updates)
        checkpoint = delta.checkpoint
    return checkpoint


def signals(held):
    return TakebackSignalExchangeAPI.naive_convert_to_signal_type(
        SIGNAL_TYPES, TakebackCollabConfig(name="Takeback"), held
    )


def test_the_manifest_declares_the_exchange_under_its_own_name():
    assert TX_MANIFEST.apis == (TakebackSignalExchangeAPI,)
    assert TakebackSignalExchangeAPI.get_name() == "takeback"
    assert TakebackCollabConfig(name="x").api == "takeback"


def test_credentials_come_from_the_environment_variable_then_the_file(monkeypatch, tmp_path):
    monkeypatch.delenv("TX_TAKEBACK_CREDENTIALS", raising=False)
    monkeypatch.setattr(TakebackCredentials, "FILE_NAME", str(tmp_path / ".tx_takeback"))
    (tmp_path / ".tx_takeback").write_text("tb_file, https://takeback.example\n")
    creds = TakebackCredentials.get(TakebackSignalExchangeAPI)
    assert (creds.api_key, creds.base_url) == ("tb_file", "https://takeback.example")
    assert "tb_file" not in repr(creds)
    monkeypatch.setenv("TX_TAKEBACK_CREDENTIALS", "tb_env,https://other.example/api/v1/")
    assert TakebackCredentials.get(TakebackSignalExchangeAPI).api_key == "tb_env"
    # The key would travel in clear text: http is for loopback only.
    monkeypatch.setenv("TX_TAKEBACK_CREDENTIALS", "tb_env,http://takeback.example")
    with pytest.raises(SignalExchangeAPIInvalidAuthException):
        TakebackCredentials.get(TakebackSignalExchangeAPI)


def test_api_root_accepts_the_site_root_or_the_api_root():
    assert api_root("https://takeback.example") == "https://takeback.example/api/v1"
    assert api_root("https://takeback.example/api/v1/") == "https://takeback.example/api/v1"
    assert api_root("http://127.0.0.1:8000") == "http://127.0.0.1:8000/api/v1"
    for bad in ("takeback.example", "ftp://takeback.example", "http://10.0.0.1"):
        with pytest.raises(ValueError):
            api_root(bad)


def test_a_removal_deletes_only_the_withdrawing_cases_entry():
    # Two victims hold the same photo; one withdraws, the other's stays blocked.
    api = exchange(
        [
            page([entry(1, PDQ_A, case="pc_1", item="pi_1")], 1, has_more=True),
            page([entry(2, PDQ_A, case="pc_2", item="pi_2"), entry(3, PDQ_B, item="pi_3")], 3),
        ]
    )
    held = {}
    checkpoint = fetch(api, held)
    assert api.client.requests == [(None, ""), ("c1", "")]
    assert set(signals(held)[PdqSignal]) == {PDQ_A, PDQ_B}
    assert len(signals(held)[PdqSignal][PDQ_A].records) == 2

    api.client.pages = [
        page(
            [
                entry(4, PDQ_A, op="remove", case="pc_1", item="pi_1"),
                entry(5, PDQ_B, op="remove", item="pi_3"),
            ],
            5,
        )
    ]
    checkpoint = fetch(api, held, checkpoint)
    (record,) = signals(held)[PdqSignal][PDQ_A].records
    assert record.case_id == "pc_2"
    assert PDQ_B not in signals(held)[PdqSignal]
    assert isinstance(checkpoint, TakebackCheckpoint) and checkpoint.position == 5
    # The fetch began by acknowledging the checkpoint the caller had stored.
    assert api.client.acknowledged == ["c3"]


def test_an_idle_poll_sends_the_etag_of_the_empty_page_and_a_304_yields_nothing():
    api = exchange([page([], 7, etag='W/"idle"'), None])
    first = fetch(api, {}, TakebackCheckpoint(cursor="c7", position=7, update_time=100))
    assert first.etag == 'W/"idle"' and first.update_time >= 100
    deltas = list(api.fetch_iter(SIGNAL_TYPES, first))
    assert deltas == [] and api.client.requests[-1] == ("c7", 'W/"idle"')


def test_progress_time_never_goes_back():
    api = exchange([page([entry(1, PDQ_A)], 1, has_more=True), page([], 1)])
    times = [d.checkpoint.update_time for d in api.fetch_iter(SIGNAL_TYPES, None)]
    assert times == sorted(times)


def test_algorithms_map_to_the_signal_types_pytx_has():
    held = {}
    api = exchange(
        [
            page(
                [
                    entry(1, PDQ_A),
                    entry(2, "c" * 32, algorithm="md5", media_kind="video"),
                    entry(3, "d" * 64, algorithm="sha256", media_kind="video"),
                    entry(4, "e" * 32, algorithm="md5"),  # a photo's MD5: no pytx type
                    entry(5, "f" * 16, algorithm="phash"),  # no pytx type
                ],
                5,
            )
        ]
    )
    fetch(api, held)
    assert len(held) == 5  # kept, in case a later pytx maps them
    converted = signals(held)
    assert {st: set(v) for st, v in converted.items()} == {
        PdqSignal: {PDQ_A},
        VideoMD5Signal: {"c" * 32},
        VideoSHA256Signal: {"d" * 64},
    }


@pytest.mark.parametrize(
    ("feedback", "category", "text"),
    [
        ({}, Category.INVESTIGATION_SEED, "blocked=0 not_violating=0 pending_review=0"),
        ({"blocked": 2}, Category.POSITIVE_CLASS, "blocked=2 not_violating=0"),
        ({"blocked": 1, "not_violating": 1}, Category.DISPUTED, "blocked=1 not_violating=1"),
        ({"not_violating": 1}, Category.DISPUTED, "not_violating=1"),
    ],
)
def test_opinions_come_from_the_feeds_corroboration_counts(feedback, category, text):
    held = {}
    fetch(exchange([page([entry(1, PDQ_A, **feedback)], 1)]), held)
    metadata = signals(held)[PdqSignal][PDQ_A]
    # The victim's own report is a seed, so a lone "not violating" is a dispute.
    assert metadata.get_as_aggregate_opinion().category == category
    assert text in str(metadata)


def test_report_opinion_and_report_seen_send_feedback_outcomes():
    api = exchange([])
    category = state.SignalOpinionCategory
    for opinion in (category.POSITIVE_CLASS, category.NEGATIVE_CLASS):
        api.report_opinion(PdqSignal, PDQ_A, state.SignalOpinion(True, opinion, set()))
    api.report_seen(VideoMD5Signal, "c" * 32)
    assert api.client.reports == [
        {"algorithm": "pdq", "value": PDQ_A, "outcome": "blocked"},
        {"algorithm": "pdq", "value": PDQ_A, "outcome": "not_violating"},
        {"algorithm": "md5", "value": "c" * 32, "outcome": "matched_pending_review"},
    ]

    api.client.feedback = lambda reports: [{**reports[0], "status": "unknown_hash"}]
    with pytest.raises(ValueError, match="unknown_hash"):
        api.report_seen(PdqSignal, PDQ_B)


def test_checkpoint_and_credentials_survive_hmas_json_storage_and_records_pickle():
    # HMA keeps checkpoints and credentials as JSON through pytx's dataclass_json,
    # and pickles fetched records; the CLI pickles the whole fetched state.
    checkpoint = TakebackCheckpoint(cursor="c9", position=9, update_time=1, etag='W/"x"')
    as_json = dataclass_json.dataclass_dump_dict(checkpoint)
    assert dataclass_json.dataclass_load_dict(as_json, TakebackCheckpoint) == checkpoint
    creds = TakebackCredentials(api_key="tb_x", base_url="https://takeback.example")
    as_json = dataclass_json.dataclass_dump_dict(creds)
    assert dataclass_json.dataclass_load_dict(as_json, TakebackCredentials) == creds
    record = TakebackRecord.from_entry(entry(1, PDQ_A, blocked=1))
    assert pickle.loads(pickle.dumps(record)) == record  # noqa: S301 - our own bytes
