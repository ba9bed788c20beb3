"""Small helpers shared by the page modules (victims' views.py, caseworkers.py)."""

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from portal.cases import throttling


def client_of(request: HttpRequest) -> str:
    """The keyed hash of the client's address (see TAKEBACK_PROXY_COUNT)."""
    ip = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TAKEBACK_PROXY_COUNT
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxies:
            ip = forwarded[-proxies]
    return throttling.client_key(ip=ip)


def lockout_message(lockout: throttling.Lockout) -> str:
    return _(
        "For your safety, no more attempts are accepted for the next %(minutes)d minutes. "
        "This is not your fault, and your case is safe: nothing in it has changed. "
        "Please wait and try again, or use your recovery code if you have one."
    ) % {"minutes": lockout.minutes}
