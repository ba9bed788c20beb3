"""Celery tasks of the trust app (interfaces: each calls one service): retention."""

from celery import shared_task

from portal.trust.audit import audit_purge
from portal.trust.retention import removed_hashes_purge


@shared_task(name="trust.removed_hashes_purge")
def removed_hashes_purge_task() -> int:
    """Delete removed hashes past retention whose removal reached every platform."""
    return removed_hashes_purge().hashes


@shared_task(name="trust.audit_purge")
def audit_purge_task() -> int:
    """Delete audit rows past `TAKEBACK_AUDIT_RETENTION_DAYS` (the one delete allowed)."""
    return audit_purge()
