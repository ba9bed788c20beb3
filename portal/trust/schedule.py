"""Periodic jobs in the embedded default: the Celery beat schedule, run in-process.

In production `celery -A portal beat` runs `CELERY_BEAT_SCHEDULE` (portal/settings/
base.py): `cases.expire` and `platforms.decoys_rotate` every hour, the retention purges
(`trust.removed_hashes_purge`, `trust.audit_purge`) daily, among others. Without a
broker (the embedded default, `make run`) there is no beat, so this module starts one
daemon thread per process that runs the same tasks every
`TAKEBACK_LOCAL_SCHEDULE_SECONDS` (default: an hour, the shortest of their beat
intervals; the purges are idempotent, so running them hourly only does daily work
sooner), first a minute after start-up. The decoy rotation's planned events then run on
timer threads at their own moments (portal/platforms/tasks.py). It starts only when
tasks run eagerly (no broker, hence no beat) and only in a server process (runserver,
gunicorn; not in manage.py commands or tests), so it never runs beside a real beat.
Webhook sweeps have their own in-process timer (portal/platforms/tasks.py).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from django.conf import settings
from django.db import close_old_connections, connections

from portal.cases.tasks import cases_expire_task
from portal.platforms.tasks import decoys_rotate_task
from portal.trust.tasks import audit_purge_task, removed_hashes_purge_task

logger = logging.getLogger(__name__)

_started_in: int | None = None
_lock = threading.Lock()
FIRST_RUN_DELAY_SECONDS = 60.0


def _serving() -> bool:
    """Only a server process (runserver, gunicorn) runs the schedule, not manage.py commands."""
    argv = " ".join(sys.argv)
    return "runserver" in argv or "gunicorn" in argv


# The jobs of CELERY_BEAT_SCHEDULE that keep the list honest, in the order they run.
LOCAL_JOBS = (cases_expire_task, decoys_rotate_task, removed_hashes_purge_task, audit_purge_task)


def local_schedule_tick() -> dict[str, int]:
    """Run the scheduled jobs once (what the thread does each interval): name -> result."""
    # Each task's own body, in this thread: `.apply()` would make Celery set up (and
    # cache) a result backend for this process. One job's failure doesn't stop the rest.
    results = {}
    for job in LOCAL_JOBS:
        try:
            results[job.name] = int(job.run())
        except Exception:
            logger.exception("scheduled job %s failed", job.name)
    return results


def _loop(interval: float) -> None:
    stop = threading.Event()
    if stop.wait(FIRST_RUN_DELAY_SECONDS):
        return
    while True:
        try:
            # The thread's own connections: fresh for each run, closed after it.
            close_old_connections()
            local_schedule_tick()
        except Exception:
            logger.exception("local schedule tick failed")
        finally:
            connections.close_all()
        stop.wait(interval)


def local_schedule_start(*, force: bool = False) -> bool:
    """Start the in-process schedule if this process needs one; True if started."""
    global _started_in
    interval = settings.TAKEBACK_LOCAL_SCHEDULE_SECONDS
    if not settings.CELERY_TASK_ALWAYS_EAGER or interval <= 0:
        return False
    if not force and not _serving():
        return False
    with _lock:
        if _started_in == os.getpid():
            return False
        _started_in = os.getpid()
    threading.Thread(target=_loop, args=(interval,), name="takeback-schedule", daemon=True).start()
    return True
