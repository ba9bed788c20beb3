"""Template context shared by every portal page."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    return {"quick_exit_url": settings.TAKEBACK_QUICK_EXIT_URL}
