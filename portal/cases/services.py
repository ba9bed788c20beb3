"""Writes on cases and their hashes (HackSoft-style services).

Every change to a hash takes a new feed position, so platforms learn about
additions and removals in order (portal/cases/positions.py, whose listeners
hear of each change once it commits).
"""

import math
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from hashing.algorithms import ALGORITHMS, SHARED_ALGORITHMS, SHARED_EXACT, SHARED_PERCEPTUAL
from hashing.distance import is_valid_hex
from hashing.pdq import PDQ_QUALITY_FLOOR
from hashing.video import (
    DEFAULT_MAX_VIDEO_SECONDS,
    DEFAULT_SECONDS_PER_HASH,
    TIMESTAMP_DECIMALS,
    VpdqFrame,
)
from portal.cases import limits
from portal.cases.models import Case, Organisation, SubmittedHash
from portal.cases.plausibility import hash_plausibility_check
from portal.cases.positions import feed_positions_allocate
from portal.exceptions import ApplicationError

# Crockford's base32 alphabet: no I, L, O or U, so numbers read aloud or
# copied by hand don't get confused.
_CASE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CASE_NUMBER_GROUPS = 4  # 4 groups of 4 characters: 80 random bits
PIN_DIGITS = 8
RECOVERY_CODE_GROUPS = 5  # 5 groups of 4 characters: 100 random bits

MAX_ITEMS_PER_SUBMISSION = 100
# hashing.video's duration limit (two hours) at vPDQ's one frame a second: 7,200.
MAX_FRAMES_PER_VIDEO = int(DEFAULT_MAX_VIDEO_SECONDS / DEFAULT_SECONDS_PER_HASH)


@dataclass(frozen=True)
class SubmittedItem:
    """The hashes of one file, as computed in the browser or in memory on the server."""

    media_kind: str
    hashes: dict[str, str]  # algorithm -> lower-case hex (a video's: its digests)
    pdq_quality: int | None = None
    # A video's vPDQ frames in frame order (hashing.video), stored as PDQ rows of the item.
    vpdq: tuple[VpdqFrame, ...] = ()


@dataclass(frozen=True)
class SubmissionScreen:
    """A check on new hashes before they enter the feed, plugged in at start-up.

    `check(rows)` returns the files (item ids) to hold, each with a reason; held
    files are stored quarantined and never reach the feed (see `hashes_add`), and
    `held(rows, reasons)` hears of them once stored. The benign list
    (portal/trust/benign.py) is one; this app knows nothing of who screens.
    """

    check: Callable[[list[SubmittedHash]], dict[uuid.UUID, str]]
    held: Callable[[list[SubmittedHash], dict[uuid.UUID, str]], None]


_screens: list[SubmissionScreen] = []


def submission_screen_register(screen: SubmissionScreen) -> None:
    """Screen every submission with `screen` from now on (idempotent)."""
    if screen not in _screens:
        _screens.append(screen)


@dataclass(frozen=True)
class CaseCreated:
    """A new case and its secrets, which are shown once and never stored in clear."""

    case: Case
    pin: str
    recovery_code: str | None = field(default=None, repr=False)


def case_number_generate() -> str:
    """A random case number such as 'K3M9-ZQ2A-7HFX-0B4C' (80 bits)."""
    chars = "".join(secrets.choice(_CASE_ALPHABET) for _ in range(4 * CASE_NUMBER_GROUPS))
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def recovery_code_generate() -> str:
    """A recovery code such as 'R7KX-2M9Q-TZ4B-8WNC-1PHD' (100 random bits, readable)."""
    chars = "".join(secrets.choice(_CASE_ALPHABET) for _ in range(4 * RECOVERY_CODE_GROUPS))
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def pin_generate() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


def item_validate(*, item: SubmittedItem) -> None:
    """Raise ApplicationError unless every hash of the item is well formed."""
    if item.media_kind not in SubmittedHash.MediaKind.values:
        raise ApplicationError(f"Unknown media kind {item.media_kind!r}.", code="bad_media_kind")
    if not item.hashes and not item.vpdq:
        raise ApplicationError("An item needs at least one hash.", code="no_hashes")
    frames_kept(item=item)  # raises on a malformed frame list
    for algorithm, value in item.hashes.items():
        if algorithm not in SHARED_ALGORITHMS:
            raise ApplicationError(f"Unknown algorithm {algorithm!r}.", code="bad_algorithm")
        if item.media_kind not in ALGORITHMS[algorithm].media_kinds:
            raise ApplicationError(
                f"A {algorithm} hash can't describe a {item.media_kind}.", code="bad_algorithm"
            )
        if not is_valid_hex(algorithm, value):
            raise ApplicationError(
                f"{algorithm} hash must be lower-case hex of the right length.", code="bad_hash"
            )
        # The hash itself must be one a real file could have (the client's
        # quality is not taken on trust): see portal/cases/plausibility.py.
        if (implausible := hash_plausibility_check(algorithm=algorithm, value=value)) is not None:
            raise ApplicationError(implausible.message, code=implausible.code)
    if item.pdq_quality is not None and not 0 <= item.pdq_quality <= 100:
        raise ApplicationError("PDQ quality must be 0-100.", code="bad_quality")
    # Low-quality PDQ hashes match unrelated pictures; they are refused, not stored
    # (the browser keeps only the exact digests of such a file).
    quality = item.pdq_quality
    if "pdq" in item.hashes and quality is not None and quality < PDQ_QUALITY_FLOOR:
        raise ApplicationError(
            f"PDQ quality {quality} is below {PDQ_QUALITY_FLOOR}.", code="low_quality"
        )


def frames_kept(*, item: SubmittedItem) -> list[VpdqFrame]:
    """The video frames of `item` to store; raises ApplicationError on a malformed list.

    A well-formed list is frame numbers in increasing order, timestamps >= 0, PDQ hex and
    a 0-100 quality. Of those, frames too weak or too implausible to share are left out
    rather than refused, as the hashers themselves leave weak frames out
    (hashing.video.kept_frames): a real video may have a fade or a title card, and its
    digests and other frames still block it. A repeated frame hash is kept once, as vPDQ
    matching counts distinct hashes.
    """
    if not item.vpdq:
        return []
    if item.media_kind != SubmittedHash.MediaKind.VIDEO:
        raise ApplicationError("Only a video has frame hashes.", code="bad_frames")
    if len(item.vpdq) > MAX_FRAMES_PER_VIDEO:
        raise ApplicationError(
            f"A video may have at most {MAX_FRAMES_PER_VIDEO} frame hashes.",
            code="too_many_frames",
        )
    kept: list[VpdqFrame] = []
    seen: set[str] = set()
    previous = -1
    for frame in item.vpdq:
        if (
            frame.frame <= previous
            or not math.isfinite(frame.timestamp)
            or frame.timestamp < 0
            or not 0 <= frame.quality <= 100
            or not is_valid_hex("pdq", frame.pdq)
        ):
            raise ApplicationError(
                "Frame hashes need increasing frame numbers, timestamps of 0 or more, "
                "PDQ hex and a 0-100 quality.",
                code="bad_frame",
            )
        previous = frame.frame
        if (
            frame.quality < PDQ_QUALITY_FLOOR
            or frame.pdq in seen
            or hash_plausibility_check(algorithm="pdq", value=frame.pdq) is not None
        ):
            continue
        seen.add(frame.pdq)
        kept.append(frame)
    return kept


@transaction.atomic
def case_create(
    *,
    items: list[SubmittedItem],
    subject: str = Case.Subject.PICTURED,
    organisation: Organisation | None = None,
    with_recovery_code: bool = False,
) -> CaseCreated:
    """Create an anonymous case holding the hashes of `items`."""
    if not 1 <= len(items) <= MAX_ITEMS_PER_SUBMISSION:
        raise ApplicationError(
            f"Submit between 1 and {MAX_ITEMS_PER_SUBMISSION} files at a time.", code="bad_count"
        )
    for item in items:
        item_validate(item=item)
    pin = pin_generate()
    recovery_code = recovery_code_generate() if with_recovery_code else None
    case = Case.objects.create(
        number=case_number_generate(),
        pin_hash=make_password(pin),
        recovery_code_hash=make_password(recovery_code) if recovery_code else "",
        subject=subject,
        organisation=organisation,
        expires_at=timezone.now() + timedelta(days=settings.TAKEBACK_CASE_LIFETIME_DAYS),
    )
    hashes_add(case=case, items=items)
    return CaseCreated(case=case, pin=pin, recovery_code=recovery_code)


@transaction.atomic
def hashes_add(*, case: Case, items: list[SubmittedItem]) -> list[SubmittedHash]:
    """Add the hashes of more files to an active case; repeats are ignored."""
    # Lock the case so a concurrent withdrawal can't interleave with the add.
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.status != Case.Status.ACTIVE:
        raise ApplicationError("This case is closed; start a new one.", code="case_closed")
    existing = set(case.hashes.filter(frame__isnull=True).values_list("algorithm", "value"))
    rows: list[SubmittedHash] = []
    for item in items:
        item_validate(item=item)
        item_id = uuid.uuid4()
        repeated = bool(item.hashes) and all(pair in existing for pair in item.hashes.items())
        for algorithm, value in item.hashes.items():
            if (algorithm, value) in existing:
                continue
            existing.add((algorithm, value))
            rows.append(
                SubmittedHash(
                    case=case,
                    item_id=item_id,
                    algorithm=algorithm,
                    value=value,
                    quality=item.pdq_quality if algorithm == SubmittedHash.Algorithm.PDQ else None,
                    media_kind=item.media_kind,
                )
            )
        # A video already in the case (same digests) keeps the frames it has.
        if not repeated:
            rows.extend(
                SubmittedHash(
                    case=case,
                    item_id=item_id,
                    algorithm=SubmittedHash.Algorithm.PDQ,
                    value=frame.pdq,
                    quality=frame.quality,
                    media_kind=item.media_kind,
                    frame=frame.frame,
                    frame_timestamp=round(frame.timestamp, TIMESTAMP_DECIMALS),
                )
                for frame in frames_kept(item=item)
            )
    if not rows:
        return []
    # Quotas: checked before anything is written, spent only if this commits
    # (portal/cases/limits.py), so a refused submission costs the victim nothing.
    files = len({row.item_id for row in rows})
    stored = case.hashes.values("item_id").distinct().count()
    limits.files_add_check(case_id=case.pk, files=files, files_stored=stored)
    reasons: dict[uuid.UUID, str] = {}
    for screen in _screens:
        for item_id, reason in screen.check(rows).items():
            reasons.setdefault(item_id, reason)
    now = timezone.now()
    for row, seq in zip(rows, feed_positions_allocate(count=len(rows)), strict=True):
        row.feed_seq = seq
        if row.item_id in reasons:
            # Held: stored quarantined at the negated position, which no feed
            # reader ever serves (they read positions above a cursor >= 0), so
            # not even a removal of it reaches a platform. Restoring it gives
            # it a new position as an add (portal/trust/review.py).
            row.feed_seq = -seq
            row.status = SubmittedHash.Status.QUARANTINED
            row.removed_at = now
    created = SubmittedHash.objects.bulk_create(rows)
    limits.files_add_spend(case_id=case.pk, files=files)
    if reasons:
        held = [row for row in created if row.item_id in reasons]
        for screen in _screens:
            screen.held(held, reasons)
    return created


def _hashes_remove(*, hashes: list[SubmittedHash], status: str) -> int:
    """Take active hashes out of the feed: each gets a new position as a removal."""
    active = [h for h in hashes if h.status == SubmittedHash.Status.ACTIVE]
    if not active:
        return 0
    positions = feed_positions_allocate(count=len(active))
    # Read the clock after taking the feed lock, so removal times follow feed order.
    now = timezone.now()
    for row, seq in zip(active, positions, strict=True):
        row.status = status
        row.removed_at = now
        row.updated_at = now  # bulk_update doesn't apply auto_now
        row.feed_seq = seq
    SubmittedHash.objects.bulk_update(active, ["status", "removed_at", "feed_seq", "updated_at"])
    return len(active)


@transaction.atomic
def case_withdraw(*, case: Case) -> int:
    """Withdraw the whole case; its hashes leave the feed as removals."""
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.status == Case.Status.WITHDRAWN:
        return 0
    case.status = Case.Status.WITHDRAWN
    case.withdrawn_at = timezone.now()
    case.save(update_fields=["status", "withdrawn_at"])
    return _hashes_remove(
        hashes=list(case.hashes.order_by("pk")), status=SubmittedHash.Status.WITHDRAWN
    )


@transaction.atomic
def item_withdraw(*, case: Case, item_id: uuid.UUID) -> int:
    """Withdraw the hashes of one file of a case."""
    hashes = list(case.hashes.filter(item_id=item_id).order_by("pk"))
    if not hashes:
        raise ApplicationError("No such image in this case.", code="not_found")
    return _hashes_remove(hashes=hashes, status=SubmittedHash.Status.WITHDRAWN)


@transaction.atomic
def cases_expire(*, now=None) -> int:
    """Expire active cases past their expiry time; returns the hashes removed."""
    now = now or timezone.now()
    removed = 0
    for case in Case.objects.select_for_update().filter(
        status=Case.Status.ACTIVE, expires_at__lte=now
    ):
        case.status = Case.Status.EXPIRED
        case.save(update_fields=["status"])
        removed += _hashes_remove(
            hashes=list(case.hashes.order_by("pk")), status=SubmittedHash.Status.EXPIRED
        )
    return removed


@transaction.atomic
def case_expire(*, case: Case) -> int:
    """Operator action: expire an active case now; its hashes leave the feed as removals."""
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.status != Case.Status.ACTIVE:
        return 0
    case.status = Case.Status.EXPIRED
    case.expires_at = timezone.now()
    case.save(update_fields=["status", "expires_at"])
    return _hashes_remove(
        hashes=list(case.hashes.order_by("pk")), status=SubmittedHash.Status.EXPIRED
    )


@transaction.atomic
def hashes_quarantine(*, hashes: list[SubmittedHash]) -> int:
    """Operator action: hold hashes back (e.g. suspected abuse); they leave the feed."""
    ids = [h.pk for h in hashes]
    locked = list(SubmittedHash.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    return _hashes_remove(hashes=locked, status=SubmittedHash.Status.QUARANTINED)


@transaction.atomic
def hashes_restore(*, hashes: list[SubmittedHash]) -> int:
    """Operator action: put quarantined hashes of active cases back in the feed, as adds."""
    ids = [h.pk for h in hashes]
    locked = [
        row
        for row in SubmittedHash.objects.select_for_update()
        .select_related("case")
        .filter(pk__in=ids, status=SubmittedHash.Status.QUARANTINED)
        .order_by("pk")
        if row.case.status == Case.Status.ACTIVE
    ]
    if not locked:
        return 0
    positions = feed_positions_allocate(count=len(locked))
    now = timezone.now()
    for row, seq in zip(locked, positions, strict=True):
        row.status = SubmittedHash.Status.ACTIVE
        row.removed_at = None
        row.updated_at = now
        row.feed_seq = seq
    SubmittedHash.objects.bulk_update(locked, ["status", "removed_at", "feed_seq", "updated_at"])
    return len(locked)


@transaction.atomic
def case_renew(*, case: Case) -> Case:
    """The victim keeps the case for another full lifetime from today (status page)."""
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.status != Case.Status.ACTIVE:
        raise ApplicationError("Only an active case can be renewed.", code="case_closed")
    case.expires_at = timezone.now() + timedelta(days=settings.TAKEBACK_CASE_LIFETIME_DAYS)
    case.save(update_fields=["expires_at"])
    return case


def item_from_record(*, record: dict) -> SubmittedItem:
    """The item to store for one `hashing` record (server-side hashing path).

    Keeps only hashes: a PDQ hash below the quality floor is left out, as the
    browser does, and the file's exact digests still block exact copies.
    """
    if record.get("media") == SubmittedHash.MediaKind.VIDEO:
        return SubmittedItem(
            media_kind=SubmittedHash.MediaKind.VIDEO,
            hashes={alg: record[alg] for alg in SHARED_EXACT if record.get(alg)},
            vpdq=tuple(VpdqFrame.from_dict(frame) for frame in record.get("vpdq", ())),
        )
    quality = record.get("pdq_quality")
    keep = list(SHARED_EXACT)
    if record.get("pdq") and quality is not None and quality >= PDQ_QUALITY_FLOOR:
        keep += SHARED_PERCEPTUAL
    hashes = {alg: record[alg] for alg in keep if record.get(alg)}
    return SubmittedItem(
        media_kind=record.get("media", SubmittedHash.MediaKind.IMAGE),
        hashes=hashes,
        pdq_quality=quality if "pdq" in hashes else None,
    )


def _grouped_normalise(raw: str, groups: int) -> str | None:
    """Canonical form of a typed Crockford base32 code of `groups` groups of 4, or None.

    Forgiving as Crockford's base32 intends: case, spaces and dashes don't
    matter, and O/I/L typed by mistake read as 0/1/1.
    """
    chars = "".join(raw.split()).replace("-", "").upper()
    chars = chars.translate(str.maketrans("OIL", "011"))
    if len(chars) != 4 * groups or any(c not in _CASE_ALPHABET for c in chars):
        return None
    return "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def case_number_normalise(raw: str) -> str | None:
    """The canonical form of a typed case number, or None if it can't be one."""
    return _grouped_normalise(raw, CASE_NUMBER_GROUPS)


def _secret_matches(secret: str, encoded: str | None) -> bool:
    """check_password, but spend the same time when there is nothing to check.

    Without the dummy hash, a wrong case number would answer faster than a
    wrong PIN, telling a guesser which case numbers exist.
    """
    if not encoded:
        make_password(secret)
        return False
    return check_password(secret, encoded)


def case_authenticate(*, number: str, pin: str) -> Case | None:
    """The case with this number and PIN, or None (the caller throttles attempts)."""
    canonical = case_number_normalise(number)
    case = Case.objects.filter(number=canonical).first() if canonical else None
    pin = pin.strip()
    ok = _secret_matches(pin, case.pin_hash if case else None)
    return case if ok and pin else None


@transaction.atomic
def case_pin_reset(*, number: str, recovery_code: str) -> CaseCreated | None:
    """Give a case a new PIN if the recovery code is right; None otherwise.

    The old PIN stops working at once (sessions opened with it end too, see
    portal/web). The recovery code stays valid, so it can be used again.
    """
    canonical = case_number_normalise(number)
    case = Case.objects.select_for_update().filter(number=canonical).first() if canonical else None
    # Codes are stored in canonical form; a mistyped shape still costs a hash.
    code = _grouped_normalise(recovery_code, RECOVERY_CODE_GROUPS) or recovery_code.strip()
    # With no case _secret_matches is already False; `case is None` narrows the type.
    if (
        not _secret_matches(code, case.recovery_code_hash if case else None)
        or not code
        or case is None
    ):
        return None
    pin = pin_generate()
    case.pin_hash = make_password(pin)
    case.save(update_fields=["pin_hash"])
    return CaseCreated(case=case, pin=pin)
