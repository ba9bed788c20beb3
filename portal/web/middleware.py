"""Response headers for the portal's pages, the visitor's chosen language, and the
password-guessing guard in front of every staff and operator sign-in.

A strict Content-Security-Policy (settings.TAKEBACK_CSP), no caching of pages
that may show a case number or PIN, and no powerful browser features.
"""

from collections.abc import Callable
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from portal.web.helpers import client_of

SESSION_LANGUAGE_KEY = "tb_language"

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class PortalHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(tuple(settings.TAKEBACK_CSP_EXEMPT_PREFIXES)):
            # The API and the admin: untouched (reading the session here would
            # add `Vary: Cookie` to API responses).
            return self.get_response(request)
        # A language picked on the page is kept in the session, not in a cookie
        # of its own (the portal sets no cookies beyond session and CSRF).
        language = request.session.get(SESSION_LANGUAGE_KEY)
        if language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.TAKEBACK_CSP)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        # Pages may show a case number, PIN or case status: never keep them in
        # a cache or the back/forward history of a shared device.
        response.headers["Cache-Control"] = "no-store"
        return response


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes in front of every password check that comes with a request.

    First in AUTHENTICATION_BACKENDS: a (username, client) pair over
    AXES_FAILURE_LIMIT failures is refused before the password is compared, even
    when it is right (issue 10, finding 5). A check without a request (a
    management command, a test's `authenticate(username=..., password=...)`) has
    nobody to throttle and is left to the next backend, where plain axes would
    raise.
    """

    def authenticate(self, request: Any, username: Any = None, password: Any = None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def axes_client(request: HttpRequest) -> str:
    """AXES_CLIENT_IP_CALLABLE: the keyed hash of the client address, never the address."""
    return client_of(request)
