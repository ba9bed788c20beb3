"""Writes on platforms and their credentials.

API keys look like `tb_<prefix>_<secret>`: the prefix identifies the key to
operators and finds its row; only a SHA-256 of the whole key is stored.
"""

import hashlib
import hmac
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.cases.models import SubmittedHash
from portal.exceptions import ApplicationError
from portal.platforms.decoys import decoys_create
from portal.platforms.models import ApiKey, Decoy, HashFeedback, Platform
from portal.platforms.pseudonyms import pseudonymous_case_id
from portal.trust.audit import OPERATOR, SYSTEM, audit_record, operator_name, platform_audit
from portal.trust.models import DecoyFeedback
from portal.trust.review import feedback_quarantine_check

KEY_PREFIX_BYTES = 6  # 12 hex characters: enough to tell keys apart
KEY_SECRET_BYTES = 32  # 256 random bits

# What a native API key may do by default. Keys can be issued with fewer.
SCOPE_FEED_READ = "feed:read"
SCOPE_MATCH = "match"
SCOPE_FEEDBACK_WRITE = "feedback:write"
SCOPE_WEBHOOKS_MANAGE = "webhooks:manage"
SCOPE_STOPNCII = "stopncii"
DEFAULT_API_SCOPES = [SCOPE_FEED_READ, SCOPE_MATCH, SCOPE_FEEDBACK_WRITE, SCOPE_WEBHOOKS_MANAGE]


@dataclass(frozen=True)
class IssuedKey:
    """A key as shown once to its owner; `raw` is never stored."""

    api_key: ApiKey
    raw: str = field(repr=False)


@dataclass(frozen=True)
class PlatformCreated:
    platform: Platform
    api_key: IssuedKey
    stopncii_subscription_key: IssuedKey
    stopncii_function_key: IssuedKey


def api_key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_issue(
    *,
    platform: Platform,
    kind: str = ApiKey.Kind.API,
    scopes: list[str] | None = None,
    label: str = "",
) -> IssuedKey:
    """Create a new key for a platform (e.g. to rotate); returns the raw key once."""
    prefix = secrets.token_hex(KEY_PREFIX_BYTES)
    raw = f"tb_{prefix}_{secrets.token_urlsafe(KEY_SECRET_BYTES)}"
    if scopes is None:
        scopes = DEFAULT_API_SCOPES if kind == ApiKey.Kind.API else [SCOPE_STOPNCII]
    api_key = ApiKey.objects.create(
        platform=platform,
        kind=kind,
        label=label,
        prefix=prefix,
        key_hash=api_key_digest(raw),
        scopes=list(scopes),
    )
    platform_audit(
        platform=platform,
        action="key_issue",
        detail={"key": api_key.prefix, "kind": kind, "scopes": list(scopes)},
    )
    return IssuedKey(api_key=api_key, raw=raw)


@transaction.atomic
def platform_create(*, name: str) -> PlatformCreated:
    """Register a participating platform with a native key and a StopNCII key pair."""
    name = name.strip()
    if not name:
        raise ApplicationError("A platform needs a name.", code="bad_name")
    if Platform.objects.filter(name__iexact=name).exists():
        raise ApplicationError(f"A platform named {name!r} already exists.", code="duplicate")
    platform = Platform.objects.create(name=name)
    decoys_create(platform=platform)
    return PlatformCreated(
        platform=platform,
        api_key=api_key_issue(platform=platform, label="initial"),
        stopncii_subscription_key=api_key_issue(
            platform=platform, kind=ApiKey.Kind.STOPNCII_SUBSCRIPTION, label="initial"
        ),
        stopncii_function_key=api_key_issue(
            platform=platform, kind=ApiKey.Kind.STOPNCII_FUNCTION, label="initial"
        ),
    )


def api_key_authenticate(*, raw: str, kind: str = ApiKey.Kind.API) -> ApiKey | None:
    """The active key matching `raw` (and its platform), or None.

    Records the last-used time at most once a minute, so a busy poller doesn't
    write on every request.
    """
    parts = raw.split("_") if raw else []
    if len(parts) < 3 or parts[0] != "tb":
        return None
    api_key = (
        ApiKey.objects.select_related("platform")
        .filter(prefix=parts[1], kind=kind, revoked_at__isnull=True, platform__is_active=True)
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, api_key_digest(raw)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey, user: Any = None) -> None:
    """Revoke a key now; logged with the operator who did it."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            actor_kind=OPERATOR if user is not None else SYSTEM,
            actor=operator_name(user) if user is not None else "takeback",
            action="key_revoke",
            target=f"platform:{api_key.platform_id}",
            detail={"key": api_key.prefix, "kind": api_key.kind},
        )


MAX_FEEDBACK_BATCH = 1_000

FEEDBACK_RECORDED = "recorded"
FEEDBACK_UNKNOWN_HASH = "unknown_hash"


@dataclass(frozen=True)
class FeedbackReport:
    """A platform's report on one hash; `case_id` (its pseudonym) narrows it to one case."""

    algorithm: str
    value: str
    outcome: str
    case_id: str | None = None


@dataclass(frozen=True)
class FeedbackResult:
    report: FeedbackReport
    status: str
    hashes: int  # how many stored hashes (cases) the report was recorded against


@transaction.atomic
def feedback_submit(*, platform: Platform, reports: list[FeedbackReport]) -> list[FeedbackResult]:
    """Record what `platform` did about each hash; its latest report per hash wins.

    A report names a hash by algorithm and value (what platforms store); without a
    `case_id` it applies to every case holding that hash. Other platforms never
    see these rows, only counts (feed corroboration); victims see counts too.
    """
    if len(reports) > MAX_FEEDBACK_BATCH:
        raise ApplicationError(
            f"Send at most {MAX_FEEDBACK_BATCH} reports per request.", code="batch_too_large"
        )
    for report in reports:
        if report.outcome not in HashFeedback.Outcome.values:
            raise ApplicationError(f"Unknown outcome {report.outcome!r}.", code="bad_outcome")
    stored: dict[tuple[str, str], list[SubmittedHash]] = {}
    for row in SubmittedHash.objects.filter(
        algorithm__in={r.algorithm for r in reports}, value__in={r.value for r in reports}
    ).only("pk", "algorithm", "value", "case_id"):
        stored.setdefault((row.algorithm, row.value), []).append(row)
    decoys = {
        (decoy.algorithm, decoy.value): decoy.pk
        # Past retention a decoy is unknown, as a purged real hash is (trust/retention.py).
        for decoy in Decoy.objects.filter(
            platform=platform, value__in={r.value for r in reports}, feed_seq__gt=0
        ).only("pk", "algorithm", "value")
    }
    latest: dict[int, str] = {}
    decoy_latest: dict[int, str] = {}
    results = []
    for report in reports:
        rows = stored.get((report.algorithm, report.value), [])
        if report.case_id is not None:
            rows = [
                row
                for row in rows
                if hmac.compare_digest(
                    pseudonymous_case_id(platform=platform, case_id=row.case_id), report.case_id
                )
            ]
        for row in rows:
            latest[row.pk] = report.outcome
        if rows:
            status = FEEDBACK_RECORDED
        elif (report.algorithm, report.value) in decoys:
            # Answer and remember as for a real hash: the platform's own verdict
            # comes back with the decoy in its feed and match answers
            # (decoy_view.py), so the feedback round trip can't strip decoys.
            decoy_latest[decoys[(report.algorithm, report.value)]] = report.outcome
            status = FEEDBACK_RECORDED
        else:
            status = FEEDBACK_UNKNOWN_HASH
        results.append(FeedbackResult(report=report, status=status, hashes=len(rows)))
    if latest:
        HashFeedback.objects.bulk_create(
            [
                HashFeedback(platform=platform, submitted_hash_id=pk, outcome=outcome)
                for pk, outcome in latest.items()
            ],
            update_conflicts=True,
            unique_fields=["platform", "submitted_hash"],
            update_fields=["outcome", "updated_at"],
        )
    if decoy_latest:
        DecoyFeedback.objects.bulk_create(
            [
                DecoyFeedback(platform=platform, decoy_id=pk, outcome=outcome)
                for pk, outcome in decoy_latest.items()
            ],
            update_conflicts=True,
            unique_fields=["platform", "decoy"],
            update_fields=["outcome", "updated_at"],
        )
    if reports:
        outcomes = Counter(report.outcome for report in reports)
        platform_audit(platform=platform, action="feedback_submit", detail=dict(outcomes))
    # Two or more independent platforms' "not violating" take a hash out of the
    # feed for review (portal/trust/review.py), within this same request.
    not_violating = [pk for pk, o in latest.items() if o == HashFeedback.Outcome.NOT_VIOLATING]
    if not_violating:
        feedback_quarantine_check(hash_ids=not_violating)
    return results


@transaction.atomic
def platform_acknowledge(*, platform: Platform, position: int) -> Platform:
    """The platform has applied every change (additions and removals) up to `position`.

    Only positions it has been sent count: acknowledging beyond `fetched_seq` is
    refused. The value never goes back, so a late or repeated report is harmless.
    """
    locked = Platform.objects.select_for_update().get(pk=platform.pk)
    if position > locked.fetched_seq:
        raise ApplicationError(
            "You can only acknowledge positions you have been sent.",
            code="position_ahead",
            extra={"fetched_seq": locked.fetched_seq},
        )
    if position > locked.applied_seq:
        locked.applied_seq = position
    locked.applied_at = timezone.now()
    locked.save(update_fields=["applied_seq", "applied_at"])
    return locked
