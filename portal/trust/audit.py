"""The audit log: one append-only row for every action that changes what is shared or
reads the list, written through `audit_record` only.

Who, what, when, why; never image data, PINs, case numbers or anything else that
identifies a victim (targets are rows: "hash:12", "case:7"). Rows are never updated
or deleted by the application, and the admin offers neither (portal/trust/admin.py);
the database refuses both (portal/trust/audit_guard.py) except for `audit_purge`,
which deletes rows older than `TAKEBACK_AUDIT_RETENTION_DAYS` (daily job).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.trust.audit_guard import AUDIT_MIN_RETENTION_DAYS
from portal.trust.models import AuditEvent, AuditPurge

OPERATOR = AuditEvent.ActorKind.OPERATOR
PLATFORM = AuditEvent.ActorKind.PLATFORM
SYSTEM = AuditEvent.ActorKind.SYSTEM


def audit_record(
    *,
    actor_kind: str,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one row to the audit log (inside the caller's transaction, if any)."""
    return AuditEvent.objects.create(
        actor_kind=actor_kind,
        actor=actor[:200],
        action=action,
        target=target[:100],
        detail=detail or {},
        reason=reason,
    )


def operator_name(user: Any) -> str:
    """How an operator appears in the log: the username (staff accounts only)."""
    return getattr(user, "get_username", lambda: "")() or "unknown operator"


def platform_audit(*, platform: Any, action: str, detail: dict[str, Any], reason: str = "") -> None:
    """A platform's action (a download, feedback), logged under its name."""
    audit_record(
        actor_kind=PLATFORM,
        actor=str(platform.name),
        action=action,
        target=f"platform:{platform.pk}",
        detail=detail,
        reason=reason,
    )


def audit_purge() -> int:
    """Delete audit rows older than `TAKEBACK_AUDIT_RETENTION_DAYS`; the number deleted.

    The one delete the database allows (audit_guard.py): a purge row, visible only in
    this transaction, lets its triggers pass rows past the period (never under a year).
    The purge itself is logged, with the count and the period.
    """
    days = settings.TAKEBACK_AUDIT_RETENTION_DAYS
    if days < AUDIT_MIN_RETENTION_DAYS:
        raise ValueError(f"audit rows are kept at least {AUDIT_MIN_RETENTION_DAYS} days")
    with transaction.atomic():
        marker = AuditPurge.objects.create(retention_days=days)
        # The cutoff a little inside the database's own, so clock skew can't make the
        # trigger refuse (and roll back) the whole purge.
        cutoff = timezone.now() - timedelta(days=days, minutes=5)
        deleted, _ = AuditEvent.objects.filter(at__lt=cutoff).delete()
        marker.delete()
        if deleted:
            audit_record(
                actor_kind=SYSTEM,
                actor="takeback",
                action="audit_purge",
                detail={"deleted": deleted, "retention_days": days},
            )
    return deleted
