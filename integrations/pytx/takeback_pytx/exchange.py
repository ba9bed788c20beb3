"""SignalExchangeAPI for Takeback's native hash feed, where a withdrawal really deletes.

Every feed entry is one hash of one file of one victim's case. Entries are keyed here
by that identity (pseudonymous item id, algorithm, value), not by the hash alone: two
victims may hold the same image, and one withdrawing must not unblock the other's.
An `add` stores the entry; a `remove` (withdrawn, expired or quarantined) yields None
for its key, which is how python-threatexchange deletes (the CLI's in-memory merge
and HMA's `exchange_commit_fetch` both drop the record and its signal).

Checkpoints hold the feed cursor, so a fetch resumes exactly where the stored state
ends. The checkpoint a fetch starts from is the one the caller persisted after
applying the previous fetch, so that is the position acknowledged to the server
(victims see "removed from N of M platforms" from acknowledgements).

No `from __future__ import annotations` here: the CLI and HMA read these dataclasses'
field types at run time (argparse flags, credential forms, dacite).
"""

import datetime
import logging
import time
import typing as t
from dataclasses import dataclass, field

from threatexchange.exchanges import auth, signal_exchange_api
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.signal_type.signal_base import SignalType

from takeback_pytx.client import TakebackAPIError, TakebackClient, api_root

logger = logging.getLogger(__name__)

API_NAME = "takeback"

# Takeback algorithm and media kind -> python-threatexchange SignalType name. pytx has
# no photo MD5/SHA-256 type and no pHash/dHash type, so those entries are kept (a
# later release or extension may map them) but produce no signal.
_SIGNAL_TYPE_NAMES: dict[tuple[str, str], str] = {
    ("pdq", "image"): "pdq",
    ("pdq", "video"): "pdq",
    ("md5", "video"): "video_md5",
    ("sha256", "video"): "video_sha256",
}
# python-threatexchange's vPDQ extension (`threatexchange.extensions.vpdq`): when it is
# loaded, each listed video's frames become one signal of this type.
VPDQ_SIGNAL_TYPE = "vpdq"
# SignalType name -> the algorithm feedback is reported under.
_ALGORITHM_BY_SIGNAL_TYPE: dict[str, str] = {
    name: algorithm for (algorithm, _), name in _SIGNAL_TYPE_NAMES.items()
}

# Feedback outcomes (api/v1/feedback.py) by pytx opinion category.
OUTCOME_BY_CATEGORY: dict[state.SignalOpinionCategory, str] = {
    state.SignalOpinionCategory.POSITIVE_CLASS: "blocked",
    state.SignalOpinionCategory.NEGATIVE_CLASS: "not_violating",
    state.SignalOpinionCategory.INVESTIGATION_SEED: "matched_pending_review",
}
OUTCOME_SEEN = "matched_pending_review"


def signal_type_name(algorithm: str, media_kind: str) -> str | None:
    """The pytx SignalType name for a Takeback hash, or None if pytx has no such type."""
    return _SIGNAL_TYPE_NAMES.get((algorithm, media_kind))


@dataclass
class TakebackCredentials(auth.CredentialHelper):
    """An API key (`tb_…`, scopes `feed:read` and `feedback:write`) and the server's URL.

    As a string (environment variable or file): `<api key>,<base url>`.
    """

    ENV_VARIABLE: t.ClassVar[str] = "TX_TAKEBACK_CREDENTIALS"
    FILE_NAME: t.ClassVar[str] = "~/.tx_takeback_credentials"

    api_key: str = field(
        repr=False,
        metadata={"help": "Takeback native API key (tb_...), printed by create_platform."},
    )
    base_url: str = field(
        metadata={"help": "The Takeback server, e.g. https://takeback.example (or .../api/v1)."}
    )

    @classmethod
    def _from_str(cls, s: str) -> "TakebackCredentials":
        api_key, sep, base_url = s.strip().partition(",")
        if not sep:
            raise ValueError("Takeback credentials are '<api key>,<base url>'")
        return cls(api_key=api_key.strip(), base_url=base_url.strip())

    def _are_valid(self) -> bool:
        if not self.api_key or any(c.isspace() for c in self.api_key):
            return False
        try:
            api_root(self.base_url)
        except ValueError:
            return False
        return True


@dataclass
class TakebackCollabConfig(CollaborationConfigWithDefaults):
    """A Takeback server's feed as a collaboration (credentials say which server)."""

    api: str = field(init=False, default=API_NAME)


@dataclass
class TakebackCheckpoint(state.FetchCheckpointBase):
    # The feed cursor to continue after (opaque, signed by the server).
    cursor: str
    # The feed position the cursor stands for.
    position: int
    # Seconds since the epoch the fetched state is current to; never decreases.
    update_time: int
    # The ETag of an empty page served for `cursor`: the next poll sends it (304 if idle).
    etag: str = ""

    def get_progress_timestamp(self) -> int | None:
        return self.update_time


@dataclass
class TakebackRecord:
    """One active feed entry: one hash of one file of one case (pseudonymous ids)."""

    algorithm: str
    value: str
    media_kind: str
    case_id: str
    item_id: str
    seq: int
    quality: int | None = None
    # A video's vPDQ frame: its number and timestamp (s); None on every other entry.
    frame: int | None = None
    timestamp: float | None = None
    # Corroboration: how many platforms reported each outcome (counts, never names).
    blocked: int = 0
    not_violating: int = 0
    matched_pending_review: int = 0

    @classmethod
    def from_entry(cls, entry: t.Mapping[str, t.Any]) -> "TakebackRecord":
        feedback = entry.get("feedback") or {}
        return cls(
            algorithm=entry["algorithm"],
            value=entry["value"],
            media_kind=entry["media_kind"],
            case_id=entry["case_id"],
            item_id=entry["item_id"],
            seq=entry["seq"],
            quality=entry.get("quality"),
            frame=entry.get("frame"),
            timestamp=entry.get("timestamp"),
            blocked=int(feedback.get("blocked", 0)),
            not_violating=int(feedback.get("not_violating", 0)),
            matched_pending_review=int(feedback.get("matched_pending_review", 0)),
        )


def record_key(entry: t.Mapping[str, t.Any]) -> str:
    """The identity of a feed entry: an add and its later removal share it."""
    return f"{entry['item_id']}:{entry['algorithm']}:{entry['value']}"


@dataclass
class TakebackSignalMetadata(state.FetchedSignalMetadata):
    """Every active case holding one signal, with the platforms' corroboration."""

    records: list[TakebackRecord] = field(default_factory=list)

    def _counts(self) -> tuple[int, int, int]:
        # Feedback is per stored hash, and a report without a case id lands on every
        # case holding the value: the largest count is the number of platforms.
        return (
            max((r.blocked for r in self.records), default=0),
            max((r.not_violating for r in self.records), default=0),
            max((r.matched_pending_review for r in self.records), default=0),
        )

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        blocked, not_violating, pending = self._counts()
        # A victim's own report is not reviewed content: a seed, as pytx's StopNCII
        # adapter treats user-submitted cases. Platforms' verdicts are one opinion each.
        cases = max(len({r.case_id for r in self.records}), 1)
        category = state.SignalOpinionCategory
        counts = (
            (category.INVESTIGATION_SEED, cases + pending),
            (category.POSITIVE_CLASS, blocked),
            (category.NEGATIVE_CLASS, not_violating),
        )
        return [state.SignalOpinion(False, c, set()) for c, n in counts for _ in range(n)]

    def __str__(self) -> str:
        blocked, not_violating, pending = self._counts()
        cases = len({r.case_id for r in self.records})
        return (
            f"{self.get_as_aggregate_opinion().category.name} cases={cases} "
            f"blocked={blocked} not_violating={not_violating} pending_review={pending}"
        )


class TakebackSignalExchangeAPI(
    auth.SignalExchangeWithAuth[TakebackCollabConfig, TakebackCredentials],
    signal_exchange_api.SignalExchangeAPI[
        TakebackCollabConfig,
        TakebackCheckpoint,
        TakebackSignalMetadata,
        str,
        TakebackRecord,
    ],
):
    """Takeback's native feed: adds, removals, corroboration, feedback."""

    # Entries per feed request (the server allows up to 10,000).
    PAGE_SIZE: t.ClassVar[int] = 5_000

    def __init__(self, collab: TakebackCollabConfig, client: TakebackClient) -> None:
        super().__init__()
        self.collab = collab
        self.client = client

    @classmethod
    def get_name(cls) -> str:
        return API_NAME

    @staticmethod
    def get_config_cls() -> type[TakebackCollabConfig]:
        return TakebackCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> type[TakebackCheckpoint]:
        return TakebackCheckpoint

    @staticmethod
    def get_record_cls() -> type[TakebackSignalMetadata]:
        return TakebackSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[TakebackCredentials]:
        return TakebackCredentials

    @classmethod
    def for_collab(
        cls,
        collab: TakebackCollabConfig,
        credentials: TakebackCredentials | None = None,
    ) -> "TakebackSignalExchangeAPI":
        credentials = credentials or TakebackCredentials.get(cls)
        return cls(collab, TakebackClient(credentials.api_key, credentials.base_url))

    def fetch_iter(
        self,
        _supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: TakebackCheckpoint | None,
    ) -> t.Iterator[state.FetchDelta[str, TakebackRecord, TakebackCheckpoint]]:
        # Every entry is kept whatever types are installed now, so installing a type
        # later needs no refetch; naive_convert_to_signal_type picks what it can use.
        cursor: str | None = None
        etag = ""
        progress = 0
        if checkpoint is not None:
            cursor, etag, progress = checkpoint.cursor, checkpoint.etag, checkpoint.update_time
            self._acknowledge(checkpoint)
        while True:
            page = self.client.feed_page(cursor=cursor, limit=self.PAGE_SIZE, etag=etag)
            if page is None:  # 304: nothing changed since the last (empty) poll
                return
            updates: dict[str, TakebackRecord | None] = {}
            for entry in page.entries:
                # Later entries win: an add then its removal in one page is a removal.
                updates[record_key(entry)] = (
                    TakebackRecord.from_entry(entry) if entry["op"] == "add" else None
                )
                progress = max(progress, _timestamp(entry.get("changed_at")))
            if not page.has_more:
                progress = max(progress, int(time.time()))
            yield state.FetchDelta(
                updates,
                TakebackCheckpoint(
                    cursor=page.cursor,
                    position=page.position,
                    update_time=progress,
                    # The ETag is for the cursor sent; only an empty page leaves it unchanged.
                    etag=page.etag if not page.entries else "",
                ),
            )
            if not page.has_more:
                return
            cursor, etag = page.cursor, ""

    def _acknowledge(self, checkpoint: TakebackCheckpoint) -> None:
        try:
            self.client.acknowledge(cursor=checkpoint.cursor)
        except (TakebackAPIError, OSError) as error:
            # Acknowledging only feeds the victims' status pages; never fail a fetch on it.
            logger.warning(
                "Takeback: could not acknowledge position %d: %s", checkpoint.position, error
            )

    @classmethod
    def naive_convert_to_signal_type(
        cls,
        signal_types: t.Sequence[type[SignalType]],
        collab: TakebackCollabConfig,
        fetched: t.Mapping[str, TakebackRecord | None],
    ) -> dict[type[SignalType], dict[str, TakebackSignalMetadata]]:
        by_name = {st.get_name(): st for st in signal_types}
        ret: dict[type[SignalType], dict[str, TakebackSignalMetadata]] = {}
        for record in fetched.values():
            if record is None:
                continue
            s_type = by_name.get(signal_type_name(record.algorithm, record.media_kind) or "")
            if s_type is None:
                continue
            try:
                signal = s_type.validate_signal_str(record.value)
            except ValueError:
                logger.warning("Takeback: invalid %s hash skipped", s_type.get_name())
                continue
            ret.setdefault(s_type, {}).setdefault(signal, TakebackSignalMetadata()).records.append(
                record
            )
        vpdq_type = by_name.get(VPDQ_SIGNAL_TYPE)
        if vpdq_type is not None:
            for signal, metadata in _vpdq_signals(fetched).items():
                ret.setdefault(vpdq_type, {})[signal] = metadata
        return ret

    def report_opinion(
        self,
        s_type: type[SignalType],
        signal: str,
        opinion: state.SignalOpinion,
    ) -> None:
        """Report a verdict: positive → blocked, negative → not violating, seed → pending."""
        self._report(s_type, signal, OUTCOME_BY_CATEGORY[opinion.category])

    def report_seen(
        self,
        s_type: type[SignalType],
        signal: str,
        metadata: TakebackSignalMetadata | None = None,
    ) -> None:
        """Report that an upload matched this signal and awaits review."""
        self._report(s_type, signal, OUTCOME_SEEN)

    def _report(self, s_type: type[SignalType], signal: str, outcome: str) -> None:
        algorithm = _ALGORITHM_BY_SIGNAL_TYPE.get(s_type.get_name())
        if algorithm is None:
            # A vpdq signal is a whole video: report on its video_md5 (the listed value).
            raise NotImplementedError(f"Takeback takes no feedback on {s_type.get_name()}")
        (result,) = self.client.feedback(
            [{"algorithm": algorithm, "value": signal, "outcome": outcome}]
        )
        if result["status"] != "recorded":
            # Feedback names a listed value; anything else is not recorded anywhere.
            raise ValueError(f"Takeback did not record feedback: {result['status']}")


def _vpdq_signals(
    fetched: t.Mapping[str, TakebackRecord | None],
) -> dict[str, TakebackSignalMetadata]:
    """One pytx ``vpdq`` signal per listed video: its frames (feed entries with a frame
    number, grouped by item id) in frame order, in the vPDQ extension's own serialisation.

    The metadata holds the video's MD5 record too, so corroboration reported on the MD5
    (what feedback names a video by) shows on the vPDQ match.
    """
    # Imported here: the extension (and its `vpdq` binding) is only there when loaded.
    from threatexchange.extensions.vpdq.vpdq_util import VpdqCompactFeature, vpdq_to_json

    frames: dict[str, list[TakebackRecord]] = {}
    digests: dict[str, list[TakebackRecord]] = {}
    for record in fetched.values():
        if record is None or record.media_kind != "video":
            continue
        if record.frame is not None and record.algorithm == "pdq":
            frames.setdefault(record.item_id, []).append(record)
        elif record.algorithm == "md5":
            digests.setdefault(record.item_id, []).append(record)
    signals: dict[str, TakebackSignalMetadata] = {}
    for item_id, records in frames.items():
        records.sort(key=lambda r: r.frame or 0)
        try:
            signal = vpdq_to_json(
                [
                    VpdqCompactFeature(r.value, int(r.quality or 0), float(r.timestamp or 0.0))
                    for r in records
                ]
            )
        except ValueError:
            logger.warning("Takeback: invalid vpdq frames skipped")
            continue
        metadata = signals.setdefault(signal, TakebackSignalMetadata())
        metadata.records.extend(digests.get(item_id) or records[:1])
    return signals


def _timestamp(text: str | None) -> int:
    if not text:
        return 0
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(parsed.timestamp())
