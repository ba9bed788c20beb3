"""Response headers for the portal's pages, and the visitor's chosen language.

A strict Content-Security-Policy (settings.TAKEBACK_CSP), no caching of pages
that may show a case number or PIN, and no powerful browser features.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

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
