"""The victim's status page says what happened to each file in review, and offers
renewal before expiry; expiry runs on a schedule (Celery beat, or in-process)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from portal.cases import services
from portal.cases.models import Case, SubmittedHash
from portal.cases.positions import feed_head
from portal.trust import review, schedule
from tests.support.factories import case_with_items

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def _signed_in(client, created):
    response = client.post(
        reverse("web:status_login"), {"number": created.case.number, "pin": created.pin}
    )
    assert response.status_code == 302
    return client


def test_the_status_page_says_plainly_what_happened_to_a_quarantined_file(client):
    created = case_with_items(2)
    row = created.case.hashes.filter(algorithm="pdq").first()
    review.hashes_quarantine_for_review(hashes=[row], reason="not_violating", evidence={})
    page = _signed_in(client, created).get(reverse("web:status")).content.decode()
    assert page.count("trust-file-note") == 1
    assert "platforms were asked to stop blocking it" in page
    assert f'data-item-note="{row.item_id}"' in page


def test_renewal_is_offered_near_expiry_and_extends_the_case(client):
    created = case_with_items(1)
    _signed_in(client, created)
    assert 'id="renew"' not in client.get(reverse("web:status")).content.decode()
    Case.objects.filter(pk=created.case.pk).update(expires_at=timezone.now() + timedelta(days=5))
    assert 'id="renew"' in client.get(reverse("web:status")).content.decode()
    response = client.post(reverse("web:case_renew"))
    assert response.status_code == 302
    case = Case.objects.get(pk=created.case.pk)
    assert case.expires_at > timezone.now() + timedelta(days=365)


def test_renewing_needs_a_signed_in_case(client):
    response = client.post(reverse("web:case_renew"))
    assert response.status_code == 302 and reverse("web:status_login") in response["Location"]


def test_expiry_is_a_feed_removal_run_by_the_in_process_schedule():
    created = case_with_items(1)
    Case.objects.filter(pk=created.case.pk).update(expires_at=timezone.now() - timedelta(days=1))
    before = feed_head()
    assert schedule.local_schedule_tick()["cases.expire"] == 4
    rows = SubmittedHash.objects.filter(case=created.case)
    assert {r.status for r in rows} == {"expired"} and all(r.feed_seq > before for r in rows)


def test_the_in_process_schedule_runs_only_without_a_broker_and_once_per_process(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert not schedule.local_schedule_start(force=True)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert not schedule.local_schedule_start()  # not a server process (pytest)
    with override_settings(TAKEBACK_LOCAL_SCHEDULE_SECONDS=0):
        assert not schedule.local_schedule_start(force=True)


def test_beat_runs_the_same_tasks_as_the_in_process_schedule():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["expire-cases"]["task"] == "cases.expire"
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    local = {job.name for job in schedule.LOCAL_JOBS}
    assert local == {
        "cases.expire",
        "platforms.decoys_rotate",
        "trust.removed_hashes_purge",
        "trust.audit_purge",
    }
    assert local <= beat


def test_a_closed_case_cannot_be_renewed():
    created = case_with_items(1)
    services.case_withdraw(case=created.case)
    with pytest.raises(services.ApplicationError):
        services.case_renew(case=created.case)
