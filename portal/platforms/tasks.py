"""Celery tasks for platforms (interfaces: each calls one service)."""

from celery import shared_task

from portal.platforms import webhooks


@shared_task(name="platforms.webhooks_dispatch")
def webhooks_dispatch_task() -> int:
    """Cut unsent feed changes into webhook deliveries (each then sent by its own task)."""
    return len(webhooks.webhooks_dispatch())


@shared_task(bind=True, name="platforms.webhook_deliver", max_retries=None, acks_late=True)
def webhook_deliver_task(self, delivery_id: str) -> str:
    """One attempt at a delivery; retried with exponential backoff until done or given up."""
    outcome = webhooks.webhook_deliver(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status
