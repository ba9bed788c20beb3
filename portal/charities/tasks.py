"""Celery tasks of the charities app (interfaces: each calls one service)."""

from celery import shared_task

from portal.charities import services


@shared_task(name="charities.platform_sync_sample")
def platform_sync_sample_task() -> int:
    """Sample every counted platform's feed lag, for the operators' statistics."""
    return services.platform_sync_sample_take()
