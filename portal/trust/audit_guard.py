"""The database's own guard on the audit log: append-only, purged only past retention.

Triggers (created by migration trust.0004, on SQLite and PostgreSQL alike) refuse every
UPDATE of a `trust_auditevent` row, and every DELETE unless the deleting transaction
holds a `trust_auditpurge` row (the documented bypass: only `audit.audit_purge` writes
one) and the row being deleted is older than that row's `retention_days`, which the
trigger itself holds to at least `AUDIT_MIN_RETENTION_DAYS`. So no application bug,
admin action or cascade can rewrite history or delete a recent row; the purge row is
uncommitted while it exists, so other transactions never see it.

Residual risk: whoever can run DDL (the database owner) can drop the triggers, and on
PostgreSQL can TRUNCATE (row triggers don't fire on it; the test suite's flush relies
on that). Run the application under a role that owns neither.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

AUDIT_MIN_RETENTION_DAYS = 365
_MESSAGE = "trust_auditevent is append-only (rows are purged only past retention)"

# Constant DDL: the f-strings only put this module's own constants in (no input).
_SQLITE_INSTALL = [
    f"""CREATE TRIGGER IF NOT EXISTS trust_auditevent_no_update
    BEFORE UPDATE ON trust_auditevent
    BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS trust_auditevent_no_delete
    BEFORE DELETE ON trust_auditevent
    WHEN NOT EXISTS (
        SELECT 1 FROM trust_auditpurge p
        WHERE p.retention_days >= {AUDIT_MIN_RETENTION_DAYS}
        AND OLD."at" < strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || p.retention_days || ' days')
    )
    BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END""",  # noqa: S608
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS trust_auditevent_no_update",
    "DROP TRIGGER IF EXISTS trust_auditevent_no_delete",
]
_POSTGRESQL_INSTALL = [
    f"""CREATE OR REPLACE FUNCTION trust_auditevent_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND EXISTS (
            SELECT 1 FROM trust_auditpurge p
            WHERE p.retention_days >= {AUDIT_MIN_RETENTION_DAYS}
            AND OLD."at" < now() - make_interval(days => p.retention_days)
        ) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
    END $$""",  # noqa: S608
    "DROP TRIGGER IF EXISTS trust_auditevent_guard ON trust_auditevent",
    """CREATE TRIGGER trust_auditevent_guard BEFORE UPDATE OR DELETE ON trust_auditevent
    FOR EACH ROW EXECUTE FUNCTION trust_auditevent_guard()""",
]
_POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS trust_auditevent_guard ON trust_auditevent",
    "DROP FUNCTION IF EXISTS trust_auditevent_guard()",
]


def _statements(vendor: str, *, install: bool) -> list[str]:
    if vendor == "sqlite":
        return _SQLITE_INSTALL if install else _SQLITE_DROP
    if vendor == "postgresql":
        return _POSTGRESQL_INSTALL if install else _POSTGRESQL_DROP
    raise NotImplementedError(f"no audit guard for {vendor}")


def audit_guard_install(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers (idempotent)."""
    with connection.cursor() as cursor:
        for statement in _statements(connection.vendor, install=True):
            cursor.execute(statement)


def audit_guard_drop(connection: BaseDatabaseWrapper) -> None:
    """Remove the triggers (the migration's reverse; DDL, as only the owner can)."""
    with connection.cursor() as cursor:
        for statement in _statements(connection.vendor, install=False):
            cursor.execute(statement)
