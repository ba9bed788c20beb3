"""The audit log: one append-only row for every action that changes what is shared or
reads the list, written through `audit_record` only.

Who, what, when, why; never image data, PINs, case numbers or anything else that
identifies a victim (targets are rows: "hash:12", "case:7"). Rows are never updated
or deleted by the application, and the admin offers neither (portal/trust/admin.py).
"""

from __future__ import annotations

from typing import Any

from portal.trust.models import AuditEvent

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
