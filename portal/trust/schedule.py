"""Periodic jobs in the embedded default: the Celery beat schedule, run in-process.

In production `celery -A portal beat` runs `CELERY_BEAT_SCHEDULE` (portal/settings/
base.py): `cases.expire` every hour, among others. Without a broker (the embedded
default, `make run`) there is no beat, so this module starts one daemon thread per
process that runs the same task (`cases.expire`, the job that keeps expiry a feed
removal) every `TAKEBACK_LOCAL_SCHEDULE_SECONDS` (default: its beat interval, an
hour), first a minute after start-up. It starts only when tasks run eagerly (no
broker, hence no beat) and only in a server process (runserver, gunicorn; not in
manage.py commands or tests), so it never runs beside a real beat.
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

logger = logging.getLogger(__name__)

_started_in: int | None = None
_lock = threading.Lock()
FIRST_RUN_DELAY_SECONDS = 60.0


def _serving() -> bool:
    """Only a server process (runserver, gunicorn) runs the schedule, not manage.py commands."""
    argv = " ".join(sys.argv)
    return "runserver" in argv or "gunicorn" in argv


def local_schedule_tick() -> int:
    """Run the scheduled jobs once (what the thread does each interval)."""
    # The task's own body, in this thread: `.apply()` would make Celery set up (and
    # cache) a result backend for this process.
    return int(cases_expire_task.run())


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
