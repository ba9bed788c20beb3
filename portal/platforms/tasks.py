"""Celery tasks for platforms (interfaces: each calls one service), and the feed listener."""

from functools import partial

from celery import shared_task
from django.db import transaction

from portal.platforms import webhooks


def webhooks_dispatch_enqueue() -> None:
    """Feed listener (registered in apps.py): queue a webhook dispatch after a feed change.

    Nothing is queued while no platform has an active endpoint, so a victim's
    submission never waits on webhook work that has nobody to go to.
    """
    if webhooks.webhooks_wanted():
        webhooks_dispatch_task.delay()


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
