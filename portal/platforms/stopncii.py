"""The StopNCII-compatible exchange: its feed pages, feedback and partner submissions.

Domain side of `api/stopncii/` (which only parses and shapes JSON). StopNCII's
contract (threatexchange's `StopNCIIAPI`) speaks of one record per hash value,
"the current snapshot of all data": a later record for the same signal type and
hash replaces an earlier one. Our feed is per stored row (one hash of one case),
so a page is read in feed order and each hash value it touches is sent with its
aggregate state over every case holding it. That matters for removals: when one
of two cases holding a hash is withdrawn the hash stays Active, and only when
the last case lets go is it sent as Withdrawn/Deleted, which the client deletes.

Only the signal types of the contract are exchanged, as the algorithm registry
(hashing.algorithms) maps them: PDQ of images (`ImagePDQ`) and MD5 of videos
(`VideoMD5`). pHash/dHash/SHA-256 and image MD5 stay on the native API.

Pages follow the feed's rule (portal/platforms/feed.py): the head is read
first, rows are read up to it, and what was sent is recorded with
`feed_served_record`, as every feed reader does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Min, Q, QuerySet

from hashing.algorithms import ALGORITHMS, STOPNCII_SIGNALS, stopncii_signal
from portal.cases.models import Case, SubmittedHash
from portal.cases.services import SubmittedItem, case_create
from portal.exceptions import ApplicationError
from portal.platforms.feed import feed_head, feed_served_record
from portal.platforms.models import Decoy, HashFeedback, Platform
from portal.platforms.pseudonyms import decoy_disguise, pseudonymous_case_id
from portal.platforms.services import FeedbackReport, feedback_submit
from portal.trust.audit import platform_audit

# The contract's names (threatexchange StopNCIISignalType / StopNCIICaseStatus /
# StopNCIICSPFeedbackValue values).
SIGNAL_IMAGE_PDQ = "ImagePDQ"
SIGNAL_VIDEO_MD5 = "VideoMD5"
STATUS_ACTIVE = "Active"
STATUS_WITHDRAWN = "Withdrawn"
STATUS_DELETED = "Deleted"

# Scope a StopNCII function key needs to create cases through SubmitHashes.
# Not granted by default: only an operator issues it, to a trusted partner.
SCOPE_STOPNCII_SUBMIT = "stopncii_submit"

# How a StopNCII CSP feedback value maps to our outcome. "None" and
# "QualityUnknown" tag a hash without a verdict: accepted, nothing recorded.
FEEDBACK_OUTCOMES: dict[str, str | None] = {
    "PendingReview": HashFeedback.Outcome.MATCHED_PENDING_REVIEW,
    "Blocked": HashFeedback.Outcome.BLOCKED,
    # "Match reviewed, inconclusive if NCII": the platform kept the content up.
    "NotBlocked": HashFeedback.Outcome.NOT_VIOLATING,
    "None": None,
    "QualityUnknown": None,
}
_OUTCOME_VALUES: dict[str, str] = {
    HashFeedback.Outcome.MATCHED_PENDING_REVIEW: "PendingReview",
    HashFeedback.Outcome.BLOCKED: "Blocked",
    HashFeedback.Outcome.NOT_VIOLATING: "NotBlocked",
}

# The hashes the contract carries, from the registry: signal type -> (algorithm, media kind).
_SIGNAL_ALGORITHMS = STOPNCII_SIGNALS
assert _SIGNAL_ALGORITHMS[SIGNAL_IMAGE_PDQ] == ("pdq", "image")
assert _SIGNAL_ALGORITHMS[SIGNAL_VIDEO_MD5] == ("md5", "video")
EXCHANGED = reduce(
    or_, (Q(algorithm=a, media_kind=media) for a, media in _SIGNAL_ALGORITHMS.values())
)
# A feedback item names a hash by value only; the exchanged algorithms' lengths differ.
_ALGORITHM_BY_LENGTH = {ALGORITHMS[a].hex_length: a for a, _ in _SIGNAL_ALGORITHMS.values()}
EXCHANGED_HEX_LENGTHS = frozenset(_ALGORITHM_BY_LENGTH)
assert len(_ALGORITHM_BY_LENGTH) == len(_SIGNAL_ALGORITHMS)
_CASE_STATUS: dict[str, str] = {
    SubmittedHash.Status.ACTIVE: STATUS_ACTIVE,
    SubmittedHash.Status.WITHDRAWN: STATUS_WITHDRAWN,
    # Expired and quarantined hashes must go too; "Deleted" is the client's other
    # must-delete status.
    SubmittedHash.Status.EXPIRED: STATUS_DELETED,
    SubmittedHash.Status.QUARANTINED: STATUS_DELETED,
}


def signal_type_of(*, algorithm: str, media_kind: str) -> str:
    signal = stopncii_signal(algorithm, media_kind)
    if signal is None:
        raise ValueError(f"{algorithm} hashes of {media_kind}s are not exchanged")
    return signal


def signal_type_parse(value: str) -> str:
    """Accept 'ImagePDQ' and the 'StopNCIISignalType.ImagePDQ' the client's submit_hashes sends.

    threatexchange 1.2's `submit_hashes` serialises the enum with `str()`, so
    the real client sends the qualified name; StopNCII accepts it, so do we.
    """
    name = value.rsplit(".", 1)[-1] if value.startswith("StopNCIISignalType.") else value
    if name not in _SIGNAL_ALGORITHMS:
        raise ApplicationError(
            f"Unsupported signalType {value!r}: use {' or '.join(_SIGNAL_ALGORITHMS)}.",
            code="bad_signal_type",
        )
    return name


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class CSPFeedback:
    feedback_value: str
    source: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class HashRecord:
    """One aggregate record of the contract's FetchHashes response."""

    last_mod_timestamp: int
    signal_type: str
    hash_value: str
    hash_status: str
    case_numbers: dict[str, str]  # pseudonymous case id -> status
    csp_feedbacks: list[CSPFeedback] = field(default_factory=list)


@dataclass(frozen=True)
class FeedPosition:
    """Where a chain of FetchHashes pages stands; carried in the opaque page token."""

    after_seq: int  # the last feed position examined
    start_timestamp: int  # the startTimestamp the chain began with
    max_timestamp: int  # the newest record time sent so far (the checkpoint)
    # Removals at or below this position are not sent: the chain began as a
    # first fetch, and a platform that never held a hash has nothing to remove
    # (and need not learn that a withdrawn hash ever existed).
    skip_removed_upto: int


@dataclass(frozen=True)
class FeedPage:
    records: list[HashRecord]
    position: FeedPosition
    has_more: bool


def feed_position_start(*, platform: Platform, start_timestamp: int) -> FeedPosition:
    """The position a chain begins at for a fetch with no page token.

    The timestamp is turned into a feed position once: the chain starts at the
    first row (or decoy of this platform) that changed at or after it, and from
    there on follows positions only. A row whose change time is a little out of
    order with its position (times are taken before the feed lock) is then sent
    again rather than skipped: at a checkpoint, repeats are harmless, misses not.
    """
    head = feed_head()  # first: rows up to it are committed
    since = datetime.fromtimestamp(start_timestamp, tz=UTC)
    firsts = [
        _with_changed_at(SubmittedHash.objects.filter(EXCHANGED, feed_seq__lte=head))
        # changed_at is _with_changed_at's annotation, which its return type doesn't carry.
        .filter(changed_at__gte=since)  # type: ignore[misc]
        .aggregate(first=Min("feed_seq"))["first"],
        # (A decoy past retention sits at a negative position: never in a window.)
        Decoy.objects.filter(EXCHANGED, platform=platform, feed_seq__gt=0, feed_seq__lte=head)
        .filter(changed_at__gte=since)
        .aggregate(first=Min("feed_seq"))["first"],
    ]
    found = [seq for seq in firsts if seq is not None]
    first_fetch = platform.fetched_seq == 0
    return FeedPosition(
        # Nothing changed since: start at the head, so only what comes next is sent.
        after_seq=min(found) - 1 if found else head,
        start_timestamp=start_timestamp,
        max_timestamp=start_timestamp,
        skip_removed_upto=head if first_fetch else 0,
    )


def _window(*, position: FeedPosition, head: int) -> Q:
    """The rows a page may serve."""
    return Q(feed_seq__gt=position.after_seq, feed_seq__lte=head) & ~Q(
        ~Q(status=SubmittedHash.Status.ACTIVE), feed_seq__lte=position.skip_removed_upto
    )


def _with_changed_at(queryset: QuerySet[SubmittedHash]) -> QuerySet[SubmittedHash]:
    # A row's time is when it last changed (added or removed): the same
    # `updated_at` the native feed serves as `changed_at`.
    return queryset.annotate(changed_at=F("updated_at"))


def _page_rows(
    *, position: FeedPosition, head: int, limit: int
) -> tuple[Sequence[SubmittedHash], Sequence[SubmittedHash]]:
    """The page's rows and every row holding one of their values, from one snapshot.

    One SQL statement (the page is a subquery), so a record's aggregate state is
    the state its page was read in: a withdrawal committing mid-page can't show
    up early in an older entry's record and then again as its own entry.
    """
    window = _window(position=position, head=head)
    page_values = (
        _with_changed_at(SubmittedHash.objects.filter(EXCHANGED))
        .filter(window)
        .order_by("feed_seq")
        .values("value")[: limit + 1]
    )
    holders = list(
        _with_changed_at(SubmittedHash.objects.filter(EXCHANGED, value__in=page_values))
        # On a first fetch, cases that let go of a hash before it began are left
        # out of `caseNumbers`, as their removals are.
        .exclude(~Q(status=SubmittedHash.Status.ACTIVE), feed_seq__lte=position.skip_removed_upto)
        .annotate(in_window=ExpressionWrapper(window, output_field=BooleanField()))
    )
    page = sorted((row for row in holders if row.in_window), key=lambda row: row.feed_seq)
    return page[: limit + 1], holders


def _page_decoys(
    *, platform: Platform, position: FeedPosition, head: int, limit: int
) -> list[Decoy]:
    """This platform's leak-tracing decoys in the window, like the native feed carries."""
    return list(
        Decoy.objects.filter(
            EXCHANGED,
            platform=platform,
            feed_seq__gt=position.after_seq,
            feed_seq__lte=head,
        )
        # Withdrawn decoys are left out of a first fetch as real removals are (_window).
        .exclude(~Q(status=Decoy.Status.ACTIVE), feed_seq__lte=position.skip_removed_upto)
        .order_by("feed_seq")[: limit + 1]
    )


@transaction.atomic
def stopncii_feed_page(*, platform: Platform, position: FeedPosition, limit: int) -> FeedPage:
    """The next page of the StopNCII feed for `platform`, and record what it was sent.

    Exact within a chain of page tokens: rows are read strictly after the
    token's feed position, and positions become visible in order (see
    portal/cases/positions.py), so nothing is missed or sent twice even while
    submissions commit between pages. A chain restarted from a checkpoint
    timestamp alone (what the client does between runs) re-sends the records of
    the checkpoint second; records are whole state, so re-applying is harmless.
    """
    head = feed_head()  # read first: every position up to it is committed
    rows, holders = _page_rows(position=position, head=head, limit=limit)
    merged: list[SubmittedHash | Decoy] = sorted(
        [*rows, *_page_decoys(platform=platform, position=position, head=head, limit=limit)],
        key=lambda row: row.feed_seq,
    )
    has_more = len(merged) > limit
    merged = merged[:limit]
    records = _records_for(platform=platform, rows=merged, holders=holders)
    last_seq = merged[-1].feed_seq if merged else position.after_seq
    times = [_unix(_changed_at(row)) for row in merged]
    new_position = FeedPosition(
        # Caught up: everything up to the head has been served, filtered-out
        # positions (pHash, SHA-256, other platforms' decoys) included.
        after_seq=last_seq if has_more else max(last_seq, head),
        start_timestamp=position.start_timestamp,
        max_timestamp=max([position.max_timestamp, *times]),
        skip_removed_upto=position.skip_removed_upto,
    )
    # The victim's "received by" count reads this; it shouldn't wait for rows
    # this exchange doesn't carry, which can't reach the platform through it.
    feed_served_record(platform_id=platform.pk, position=new_position.after_seq)
    if records:  # every download of hashes is in the audit log, as for the native feed
        platform_audit(
            platform=platform,
            action="stopncii_download",
            detail={
                "after": position.after_seq,
                "to": new_position.after_seq,
                "records": len(records),
            },
        )
    return FeedPage(records=records, position=new_position, has_more=has_more)


def _changed_at(row: SubmittedHash | Decoy) -> datetime:
    if isinstance(row, Decoy):
        return row.changed_at
    return row.changed_at  # type: ignore[attr-defined]  # annotated by _with_changed_at


def _records_for(
    *, platform: Platform, rows: list[SubmittedHash | Decoy], holders: Sequence[SubmittedHash]
) -> list[HashRecord]:
    """Aggregate records for the hash values of `rows`, in the order last seen."""
    order: dict[tuple[str, str], Decoy | None] = {}
    for row in rows:
        key = (row.algorithm, row.value)
        # Keep each value once, at its last position on the page.
        order.pop(key, None)
        order[key] = row if isinstance(row, Decoy) else None
    if not order:
        return []
    keys = [key for key, decoy in order.items() if decoy is None]
    by_key: dict[tuple[str, str], list[SubmittedHash]] = defaultdict(list)
    for row in holders:
        by_key[(row.algorithm, row.value)].append(row)
    feedback_by_key = _feedback_by_key(platform=platform, keys=keys)
    records = []
    for key, decoy in order.items():
        if decoy is not None:
            records.append(_decoy_record(platform=platform, decoy=decoy))
            continue
        group = by_key[key]
        statuses = {row.status for row in group}
        if SubmittedHash.Status.ACTIVE in statuses:
            hash_status = STATUS_ACTIVE
        elif SubmittedHash.Status.WITHDRAWN in statuses:
            hash_status = STATUS_WITHDRAWN
        else:
            hash_status = STATUS_DELETED
        case_numbers: dict[str, str] = {}
        for row in sorted(group, key=lambda r: r.case_id):
            case_numbers[pseudonymous_case_id(platform=platform, case_id=row.case_id)] = (
                _CASE_STATUS[row.status]
            )
        records.append(
            HashRecord(
                # changed_at: annotated by _with_changed_at (in _page_rows).
                last_mod_timestamp=max(_unix(row.changed_at) for row in group),  # type: ignore[attr-defined]
                signal_type=signal_type_of(algorithm=key[0], media_kind=group[0].media_kind),
                hash_value=key[1],
                hash_status=hash_status,
                case_numbers=case_numbers,
                csp_feedbacks=feedback_by_key.get(key, []),
            )
        )
    return records


def _decoy_record(*, platform: Platform, decoy: Decoy) -> HashRecord:
    # Shaped like a real one-case record (withdrawn ones too), so a leaker can't tell
    # decoys apart.
    case_id = decoy_disguise(platform=platform, decoy=decoy).case_id
    status = _CASE_STATUS[decoy.status]
    return HashRecord(
        last_mod_timestamp=_unix(decoy.changed_at),
        signal_type=signal_type_of(algorithm=decoy.algorithm, media_kind=decoy.media_kind),
        hash_value=decoy.value,
        hash_status=status,
        case_numbers={case_id: status},
    )


def _feedback_by_key(
    *, platform: Platform, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], list[CSPFeedback]]:
    """Feedback to show with each hash: the platform's own, others' only anonymously.

    Platforms never see each other's feedback as theirs: other platforms'
    verdicts come without a source, one per platform, so a consumer can count
    corroboration (HMA's StopNCII adapter sums Blocked and NotBlocked) without
    learning who said what.
    """
    latest: dict[tuple[tuple[str, str], int], tuple[datetime, str]] = {}
    for algorithm, value, platform_id, outcome, updated_at in HashFeedback.objects.filter(
        submitted_hash__value__in={value for _, value in keys}
    ).values_list(
        "submitted_hash__algorithm",
        "submitted_hash__value",
        "platform_id",
        "outcome",
        "updated_at",
    ):
        key = ((algorithm, value), platform_id)
        if key not in latest or latest[key][0] < updated_at:
            latest[key] = (updated_at, outcome)
    result: dict[tuple[str, str], list[CSPFeedback]] = defaultdict(list)
    wanted = set(keys)
    for (hash_key, platform_id), (_, outcome) in sorted(
        latest.items(), key=lambda item: item[0][1] != platform.pk
    ):
        if hash_key not in wanted:
            continue
        source = platform.name if platform_id == platform.pk else ""
        result[hash_key].append(CSPFeedback(feedback_value=_OUTCOME_VALUES[outcome], source=source))
    return result


# Feedback -----------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackItem:
    hash_value: str
    feedback_value: str


def _algorithm_of(value: str) -> str:
    return _ALGORITHM_BY_LENGTH[len(value)]


def _hash_known_to(*, platform: Platform, value: str) -> bool:
    """Whether the platform can have been sent a stored hash with this value.

    Active rows, and removed rows whose removal it has fetched. Anything else
    (a hash quarantined before it reached the platform, say) is reported as
    unknown, so feedback can't be used to probe for hashes it was never sent.
    """
    sent = Q(status=SubmittedHash.Status.ACTIVE) | Q(feed_seq__lte=platform.fetched_seq)
    # The platform's own decoys are known by the same rule: feedback must not tell them apart.
    return (
        SubmittedHash.objects.filter(EXCHANGED, value=value).filter(sent).exists()
        # (past retention a decoy is unknown, as a purged real row is: feed_seq > 0)
        or Decoy.objects.filter(platform=platform, value=value, feed_seq__gt=0)
        .filter(sent)
        .exists()
    )


@transaction.atomic
def stopncii_feedback_submit(*, platform: Platform, items: list[FeedbackItem]) -> dict[str, int]:
    """Record a batch of StopNCII feedback; all or nothing.

    The contract's feedback carries no signal type, only the hash value; a value
    is unambiguous here because PDQ (64 hex digits) and MD5 (32) differ in length.
    """
    outcomes: list[str | None] = []
    unknown: list[str] = []
    for item in items:
        if item.feedback_value not in FEEDBACK_OUTCOMES:
            raise ApplicationError(
                f"Unsupported feedbackValue {item.feedback_value!r}: use one of "
                f"{', '.join(FEEDBACK_OUTCOMES)}.",
                code="bad_feedback_value",
            )
        if not _hash_known_to(platform=platform, value=item.hash_value):
            unknown.append(item.hash_value)
        outcomes.append(FEEDBACK_OUTCOMES[item.feedback_value])
    if unknown:
        raise ApplicationError(
            f"{len(unknown)} hash value(s) are not in this exchange's feed.",
            code="unknown_hash",
            extra={"unknownHashes": unknown},
        )
    reports = [
        FeedbackReport(algorithm=_algorithm_of(item.hash_value), value=item.hash_value, outcome=o)
        for item, o in zip(items, outcomes, strict=True)
        if o is not None
    ]
    # Stored the one way the native API stores feedback (latest per platform
    # and hash wins); decoys are answered as recorded and stored nowhere.
    if reports:
        feedback_submit(platform=platform, reports=reports)
    recorded = len(reports)
    ignored = len(items) - recorded
    return {"recorded": recorded, "ignored": ignored}


# Partner submissions --------------------------------------------------------


@dataclass(frozen=True)
class PartnerHash:
    signal_type: str  # ImagePDQ / VideoMD5
    hash_value: str
    feedback_value: str | None = None


@transaction.atomic
def stopncii_hashes_submit(*, platform: Platform, hashes: list[PartnerHash]) -> Case:
    """Create a case from hashes a trusted partner platform submitted (SubmitHashes).

    The caller must hold the `stopncii_submit` scope: hashes entering the feed
    are blocked everywhere, so an open door here would let anyone censor any
    image. The case has no PIN anyone knows (it is discarded), so only an
    operator can withdraw or quarantine it. A verdict sent with a hash
    (Blocked, by default in the client) is recorded as the partner's feedback.
    """
    items = []
    for partner_hash in hashes:
        algorithm, media_kind = _SIGNAL_ALGORITHMS[partner_hash.signal_type]
        items.append(
            SubmittedItem(media_kind=media_kind, hashes={algorithm: partner_hash.hash_value})
        )
    case = case_create(items=items).case
    reports = []
    for partner_hash in hashes:
        outcome = FEEDBACK_OUTCOMES.get(partner_hash.feedback_value or "None")
        if outcome is not None:
            algorithm, _ = _SIGNAL_ALGORITHMS[partner_hash.signal_type]
            case_id = pseudonymous_case_id(platform=platform, case_id=case.pk)
            reports.append(
                FeedbackReport(
                    algorithm=algorithm,
                    value=partner_hash.hash_value,
                    outcome=outcome,
                    case_id=case_id,
                )
            )
    if reports:
        feedback_submit(platform=platform, reports=reports)
    return case
