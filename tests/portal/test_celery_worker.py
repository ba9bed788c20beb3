"""A Celery task runs for real: through Redis, in a separate worker process."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.cases.models import Case
from portal.cases.tasks import cases_expire_task
from tests.support.factories import case_with_items

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_expiry_task_runs_in_a_real_worker_through_redis(celery_worker_process):
    created = case_with_items(2)
    Case.objects.filter(pk=created.case.pk).update(expires_at=timezone.now() - timedelta(hours=1))

    result = cases_expire_task.delay()
    removed = result.get(timeout=60)

    assert removed == 8
    assert result.status == "SUCCESS"
    # The row was changed by the worker process, on the same test database.
    assert Case.objects.get(pk=created.case.pk).status == Case.Status.EXPIRED


def test_a_planned_decoy_event_runs_in_a_real_worker_after_its_countdown(celery_worker_process):
    import time

    from django.db import transaction

    from portal.platforms import decoys
    from portal.platforms.models import Decoy
    from portal.platforms.tasks import _decoy_event_later
    from tests.support.platforms import platform_client

    acme = platform_client("Acme")
    before = Decoy.objects.filter(platform=acme.platform).count()
    planned = time.monotonic()
    with transaction.atomic():  # sent once the planning commits, with its countdown
        _decoy_event_later(
            decoys.DecoyEvent(delay=2, kind=decoys.REGISTER, platform_id=acme.platform.pk)
        )
    deadline = planned + 60
    while Decoy.objects.filter(platform=acme.platform).count() == before:
        assert time.monotonic() < deadline, "the worker never ran the decoy event"
        time.sleep(0.2)
    assert time.monotonic() - planned >= 2  # not before its moment
