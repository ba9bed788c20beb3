"""Celery tasks for cases (interfaces: they call one service)."""

from celery import shared_task

from portal.cases import services


@shared_task(name="cases.expire")
def cases_expire_task() -> int:
    """Expire cases past their expiry date; their hashes leave the feed as removals."""
    return services.cases_expire()
