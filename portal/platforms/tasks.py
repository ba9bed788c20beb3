"""Celery tasks for platforms (interfaces: each calls one service), and the feed listener.

A webhook never runs inside, delays or fails a victim's request, on any
configuration (issue 10, finding 1). The feed listener only puts a note on an
in-process queue and returns; a worker thread of this process takes it from
there:

- with a broker (production), the thread publishes `webhooks_dispatch_task`
  to Celery, so even a slow or unreachable broker never holds a request;
- without one (the embedded default, where Celery tasks would run eagerly,
  inline, inside the request), the thread itself cuts the deliveries and makes
  each attempt, scheduling retries with the same backoff as the Celery task
  and recording every failure on the delivery. A sweep every
  TAKEBACK_WEBHOOK_LOCAL_SWEEP_SECONDS stands in for Celery beat (it also
  picks up deliveries left pending by a restart).

The thread is started lazily, once per process (and again in a forked child),
and closes its database connections after every job.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections, connections, transaction

from portal.platforms import decoys, webhooks

logger = logging.getLogger(__name__)


def webhooks_dispatch_enqueue() -> None:
    """Feed listener (registered in apps.py): ask for a webhook dispatch after a feed change.

    Returns at once: the work happens on the local worker thread (see the module docstring).
    """
    local_worker.submit(_DISPATCH)


@shared_task(name="platforms.webhooks_dispatch")
def webhooks_dispatch_task() -> int:
    """Cut unsent feed changes into webhook deliveries, then queue each one's sending."""
    delivery_ids = webhooks.webhooks_dispatch()
    for delivery_id in delivery_ids:
        # The dispatch has committed; on_commit still guards a caller's transaction.
        transaction.on_commit(partial(webhook_deliver_task.delay, delivery_id))
    return len(delivery_ids)


@shared_task(bind=True, name="platforms.webhook_deliver", max_retries=None, acks_late=True)
def webhook_deliver_task(self, delivery_id: str) -> str:
    """One attempt at a delivery; retried with exponential backoff until done or given up."""
    outcome = webhooks.webhook_deliver(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


def _eager() -> bool:
    """No broker: Celery would run tasks inline, so the local worker does the work."""
    return bool(webhooks_dispatch_task.app.conf.task_always_eager)


_DISPATCH = "dispatch"
_DELIVER = "deliver"
_SWEEP = "sweep"


class _LocalWorker:
    """One daemon thread working through a due-time ordered queue of webhook jobs."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: list[tuple[float, int, str, str]] = []  # (due, tie, kind, argument)
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._busy = False

    def submit(self, kind: str, argument: str = "", *, delay: float = 0.0) -> None:
        with self._cond:
            self._start()
            now = time.monotonic()
            if kind == _DISPATCH and any(j[2] == _DISPATCH and j[0] <= now for j in self._jobs):
                return  # one queued dispatch covers every change committed before it runs
            heapq.heappush(self._jobs, (now + delay, next(self._order), kind, argument))
            self._cond.notify()

    def drain(self, *, timeout: float) -> None:
        """Wait until no job is due or running (for tests and orderly shutdowns)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy or (self._jobs and self._jobs[0][0] <= time.monotonic()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("webhook jobs still running")
                self._cond.wait(min(remaining, 0.05))

    def _start(self) -> None:
        # Called with the lock held. A forked child (gunicorn) has no thread: start its own.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        if self._pid != os.getpid():
            self._jobs = []
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="takeback-webhooks", daemon=True)
        self._thread.start()
        heapq.heappush(self._jobs, (time.monotonic(), next(self._order), _SWEEP, ""))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs or self._jobs[0][0] > time.monotonic():
                    wait = self._jobs[0][0] - time.monotonic() if self._jobs else None
                    self._cond.wait(wait)
                _, _, kind, argument = heapq.heappop(self._jobs)
                self._busy = True
            try:
                close_old_connections()
                self._job(kind, argument)
            except Exception:
                # Never let one job end the thread; the delivery row keeps the state.
                logger.exception("webhook job %s failed", kind)
            finally:
                connections.close_all()
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _scheduled(self) -> set[str]:
        with self._cond:
            return {argument for _, _, kind, argument in self._jobs if kind == _DELIVER}

    def _job(self, kind: str, argument: str) -> None:
        if kind == _SWEEP:
            self.submit(_SWEEP, delay=settings.TAKEBACK_WEBHOOK_LOCAL_SWEEP_SECONDS)
            if _eager():
                scheduled = self._scheduled()
                for delivery_id in webhooks.webhook_deliveries_pending():
                    if delivery_id not in scheduled:
                        self.submit(_DELIVER, delivery_id)
                self._job(_DISPATCH, "")
        elif kind == _DISPATCH:
            if not webhooks.webhooks_wanted():
                return  # nobody to send to: no work, and no broker message either
            if not _eager():
                webhooks_dispatch_task.delay()
                return
            for delivery_id in webhooks.webhooks_dispatch():
                self.submit(_DELIVER, delivery_id)
        elif kind == _DELIVER:
            outcome = webhooks.webhook_deliver(delivery_id=argument)
            if outcome.retry_in is not None:
                self.submit(_DELIVER, argument, delay=outcome.retry_in)


local_worker = _LocalWorker()


def local_worker_drain(*, timeout: float = 30.0) -> None:
    """Wait for this process's webhook jobs that are due now to finish."""
    local_worker.drain(timeout=timeout)


# Decoys ---------------------------------------------------------------------------


@shared_task(name="platforms.decoys_rotate")
def decoys_rotate_task() -> int:
    """Expire old decoy cases; plan the next hour's and run each event at its moment."""
    events = decoys.decoys_rotate()
    for event in events:
        _decoy_event_later(event)
    return len(events)


@shared_task(name="platforms.decoy_event")
def decoy_event_task(kind: str, platform_id: int, case_key: int = 0) -> int:
    """One planned decoy arrival or withdrawal, run at its own moment."""
    event = decoys.DecoyEvent(delay=0, kind=kind, platform_id=platform_id, case_key=case_key)
    return decoys.decoy_event_run(event=event)


def _decoy_event_later(event: decoys.DecoyEvent) -> None:
    """Run `event` after its delay: a Celery countdown, or without a broker a timer thread
    (eager tasks would run at once, and every event at the planning moment is a tell)."""
    args = (event.kind, event.platform_id, event.case_key)
    if not _eager():
        transaction.on_commit(
            partial(decoy_event_task.apply_async, args=args, countdown=event.delay)
        )
        return
    timer = threading.Timer(event.delay, _decoy_event_in_thread, args=args)
    timer.daemon = True
    timer.start()


def _decoy_event_in_thread(kind: str, platform_id: int, case_key: int) -> None:
    try:
        close_old_connections()
        decoy_event_task.run(kind, platform_id, case_key)
    except Exception:
        logger.exception("decoy event failed")
    finally:
        connections.close_all()
