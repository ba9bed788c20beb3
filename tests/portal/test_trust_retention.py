"""Retention (issue 9): the audit log is append-only in the database itself and purged
only past its period; removed hash values are erased once every platform was told.

Runs on SQLite (bare pytest) and on PostgreSQL (scripts/with-services): the guard is
two sets of triggers, one per database, and both are exercised here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from portal.cases import services as cases
from portal.cases.models import SubmittedHash
from portal.platforms import decoys
from portal.platforms.feed import feed_serve
from portal.platforms.models import Decoy, Platform, WebhookDelivery, WebhookEndpoint
from portal.trust import review
from portal.trust.audit import SYSTEM, audit_purge, audit_record
from portal.trust.models import AuditEvent, AuditPurge, ReviewItem
from portal.trust.retention import removed_hashes_purge
from tests.support.factories import case_with_items
from tests.support.platforms import platform_client

pytestmark = pytest.mark.django_db


def _event_at(monkeypatch, at: datetime, action: str = "feed_download") -> AuditEvent:
    """An audit row written at `at` (the clock is what auto_now_add reads)."""
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: at)
        return audit_record(actor_kind=SYSTEM, actor="test", action=action)


# The audit log's guard -----------------------------------------------------------------


def test_the_database_refuses_to_change_or_delete_an_audit_row():
    event = audit_record(actor_kind=SYSTEM, actor="test", action="feed_download")
    attempts = [
        lambda: AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten"),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
        lambda: AuditEvent.objects.all().delete(),
    ]
    for attempt in attempts:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM trust_auditevent")
    event.refresh_from_db()
    assert event.reason == "" and AuditEvent.objects.count() == 1


def test_the_purge_deletes_only_rows_past_retention_and_logs_itself(monkeypatch):
    now = timezone.now()
    old = _event_at(monkeypatch, now - timedelta(days=2 * 365 + 30))
    kept = _event_at(monkeypatch, now - timedelta(days=2 * 365 - 30))
    assert audit_purge() == 1
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
    assert AuditEvent.objects.filter(pk=kept.pk).exists()
    (logged,) = AuditEvent.objects.filter(action="audit_purge")
    assert logged.detail == {"deleted": 1, "retention_days": 730}
    assert not AuditPurge.objects.exists()  # the pass is gone with its transaction
    assert audit_purge() == 0  # nothing left to purge


def test_the_purge_bypass_never_reaches_rows_under_its_period_or_under_a_year(monkeypatch):
    now = timezone.now()
    month = _event_at(monkeypatch, now - timedelta(days=30))
    two_years = _event_at(monkeypatch, now - timedelta(days=800))
    for days in (1, 364):  # a pass under the year the triggers insist on is no pass
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditPurge.objects.create(retention_days=days)
            AuditEvent.objects.filter(pk=two_years.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditPurge.objects.create(retention_days=400)
        AuditEvent.objects.filter(pk=month.pk).delete()
    with transaction.atomic():
        marker = AuditPurge.objects.create(retention_days=400)
        assert AuditEvent.objects.filter(pk=two_years.pk).delete()[0] == 1
        marker.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=month.pk).update(reason="still refused")


def test_the_retention_setting_cannot_go_under_a_year():
    with override_settings(TAKEBACK_AUDIT_RETENTION_DAYS=30), pytest.raises(ValueError):
        audit_purge()


# Removed hash values ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def _fetch(pc) -> list[dict]:
    pc.platform.refresh_from_db()
    entries, after = [], pc.platform.fetched_seq
    while True:
        page = feed_serve(platform=pc.platform, after=after, limit=10_000)
        entries += page.entries
        after = page.position
        if not page.has_more:
            return entries


def test_a_removed_hash_is_erased_after_the_period_once_every_platform_was_sent_the_removal(
    clock,
):
    acme, lagging = platform_client("Acme"), platform_client("Lagging")
    created = case_with_items(2)
    values = set(created.case.hashes.values_list("value", flat=True))
    _fetch(acme)
    _fetch(lagging)
    cases.case_withdraw(case=created.case)
    _fetch(acme)  # Acme has the removals; Lagging has not fetched since
    clock.now += timedelta(days=91)
    assert removed_hashes_purge().hashes == 0  # Lagging still holds the hashes
    clock.now = clock.now - timedelta(days=80)
    _fetch(lagging)
    assert removed_hashes_purge().hashes == 0  # everyone told, but only 11 days ago
    clock.now += timedelta(days=80)
    assert removed_hashes_purge().hashes == len(values)
    assert not SubmittedHash.objects.filter(value__in=values).exists()
    (logged,) = AuditEvent.objects.filter(action="removed_hashes_purge")
    assert logged.detail["hashes"] == len(values) and logged.detail["retention_days"] == 90
    reports = [
        {"algorithm": "md5", "value": v, "outcome": "blocked"} for v in values if len(v) == 32
    ]
    answer = acme.client.post(reverse("v1:hash-feedback"), {"feedback": reports}, format="json")
    assert {r["status"] for r in answer.json()["results"]} == {"unknown_hash"}
    # A platform bootstrapping later reads a whole, valid feed and snapshot without them.
    newcomer = platform_client("Newcomer")
    entries = newcomer.client.get(reverse("v1:hash-feed"), {"limit": 1000}).json()["entries"]
    assert entries and all(e["value"] for e in entries)
    assert not values & {e["value"] for e in entries}
    assert newcomer.client.get(reverse("v1:hash-snapshot")).status_code == 200


def test_platforms_that_never_fetched_or_were_deactivated_do_not_hold_values_forever(clock):
    acme = platform_client("Acme")
    dormant = platform_client("Dormant")  # registered, never fetched: holds nothing
    gone = platform_client("Gone")
    created = case_with_items(1)
    _fetch(gone)
    cases.case_withdraw(case=created.case)
    _fetch(acme)
    Platform.objects.filter(pk=gone.platform.pk).update(is_active=False)
    clock.now += timedelta(days=91)
    assert dormant.platform.fetched_seq == 0
    count = created.case.hashes.count()
    assert count and removed_hashes_purge().hashes == count
    assert not SubmittedHash.objects.filter(case=created.case).exists()


def test_active_hashes_and_hashes_in_an_open_review_are_kept(clock, django_user_model):
    operator = django_user_model.objects.create_user("op", is_staff=True)
    platform_client("Acme")
    active = case_with_items(1).case
    held = case_with_items(1).case
    row = held.hashes.get(algorithm="pdq")
    review.hashes_quarantine_for_review(
        hashes=[row], reason=ReviewItem.Reason.OPERATOR, evidence={"note": "check"}, user=operator
    )
    clock.now += timedelta(days=400)
    Platform.objects.update(fetched_seq=10**9)
    removed_hashes_purge()
    assert active.hashes.count() == SubmittedHash.objects.filter(case=active).count() > 0
    assert SubmittedHash.objects.filter(pk=row.pk).exists()  # an operator may restore it
    (item,) = ReviewItem.objects.filter(submitted_hash=row)
    review.review_remove(review=item, user=operator, note="not NCII")
    removed_hashes_purge()
    assert not SubmittedHash.objects.filter(pk=row.pk).exists()


def test_withdrawn_decoys_leave_the_feed_by_the_same_rule_and_still_trace(clock):
    acme = platform_client("Acme")
    mine = set(Decoy.objects.filter(platform=acme.platform).values_list("value", flat=True))
    (case_key,) = set(
        Decoy.objects.filter(platform=acme.platform).values_list("case_key", flat=True)
    )
    _fetch(acme)
    decoys.decoy_case_withdraw(platform_id=acme.platform.pk, case_key=case_key)
    _fetch(acme)
    clock.now += timedelta(days=91)
    assert removed_hashes_purge().decoys == len(mine)
    again = feed_serve(platform=acme.platform, after=0, limit=10_000).entries
    assert not mine & {e.value for e in again}
    assert Decoy.objects.filter(value__in=mine).count() == len(mine)
    # Feedback on a purged value is unknown, for a decoy as for a real hash.
    answer = acme.client.post(
        reverse("v1:hash-feedback"),
        {
            "feedback": [
                {"algorithm": a, "value": v, "outcome": "blocked"}
                for a, v in Decoy.objects.filter(platform=acme.platform).values_list(
                    "algorithm", "value"
                )
            ]
        },
        format="json",
    ).json()
    assert {r["status"] for r in answer["results"]} == {"unknown_hash"}
    _, traces = decoys.decoys_trace(text="\n".join(mine))
    assert [t.platform.name for t in traces] == ["Acme"]


def test_delivered_webhook_bodies_are_emptied_after_the_period(clock):
    acme = platform_client("Acme")
    endpoint = WebhookEndpoint.objects.create(
        platform=acme.platform, url="https://hooks.example.org/x", secret="sealed"
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        first_seq=1,
        last_seq=2,
        payload={"entries": [{"value": "ab" * 32}]},
        status=WebhookDelivery.Status.DELIVERED,
    )
    clock.now += timedelta(days=91)
    assert removed_hashes_purge().deliveries == 1
    delivery.refresh_from_db()
    assert delivery.payload == {}
