"""Response headers for the portal's pages, the visitor's chosen language, request-body
limits and JSON errors for the API, and the password-guessing guard in front of every
staff and operator sign-in.

A strict Content-Security-Policy (settings.TAKEBACK_CSP), no caching of pages
that may show a case number or PIN, and no powerful browser features.
"""

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation

from portal.web.helpers import client_of

SESSION_LANGUAGE_KEY = "tb_language"

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class PortalHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(tuple(settings.TAKEBACK_CSP_EXEMPT_PREFIXES)):
            # The API and the admin: no language or caching rules from here (reading the
            # session would add `Vary: Cookie` to API responses); the API docs and the
            # admin get their own strict policy (settings.TAKEBACK_CSP_BY_PREFIX).
            response = self.get_response(request)
            for prefix, policy in settings.TAKEBACK_CSP_BY_PREFIX.items():
                if request.path.startswith(prefix):
                    response.headers.setdefault("Content-Security-Policy", policy)
                    break
            return response
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


# Request bodies (issue 10, finding 6) ---------------------------------------------

logger = logging.getLogger(__name__)

# A JSON string, matched possessively so that no input makes the scan backtrack.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class BodyRefused(Exception):
    """A request body refused before parsing; `code` and `status` go on the JSON error."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def json_nesting_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, found without parsing it.

    Strings are cut out first (a bracket inside one doesn't count); what is left is
    reduced to its brackets and their running depth taken with numpy, so a body of
    millions of brackets costs milliseconds and no recursion.
    """
    skeleton = _JSON_STRING.sub(b"", body)
    brackets = np.frombuffer(skeleton.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    if brackets.size == 0:
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_body_check(body: bytes) -> None:
    """Raise BodyRefused unless `body` is within TAKEBACK_JSON_MAX_BYTES and _MAX_DEPTH."""
    if len(body) > settings.TAKEBACK_JSON_MAX_BYTES:
        raise BodyRefused("too_large", 413, "The request body is too large.")
    if json_nesting_depth(body) > settings.TAKEBACK_JSON_MAX_DEPTH:
        raise BodyRefused("too_deep", 400, "The JSON body is nested too deeply.")


def json_loads_bounded(body: bytes) -> Any:
    """json.loads after `json_body_check`; ValueError for what is not JSON."""
    json_body_check(body)
    return json.loads(body)


def _error_json(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "details": None}, status=status)


_STATUS_ERRORS = {
    400: ("bad_request", "The request is not valid."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You do not have permission to do this."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Unsupported media type."),
    429: ("throttled", "Too many requests."),
}


class RequestLimitsMiddleware:
    """Bound every non-form request body before anything parses it; JSON errors for /api/.

    A body that is not a form (so JSON, or anything a view might read as JSON) must be
    at most TAKEBACK_JSON_MAX_BYTES, judged from Content-Length before it is read, and
    nest at most TAKEBACK_JSON_MAX_DEPTH levels. Under /api/, every error response
    that isn't JSON already (Django's 404 for an unknown URL, a 5xx) becomes the API's
    `{"code", "message", "details"}`; pages keep their calm HTML error pages.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            self._check(request)
        except BodyRefused as refused:
            return _error_json(refused.code, refused.message, refused.status)
        response = self.get_response(request)
        is_json = response.get("Content-Type", "").startswith("application/json")
        if request.path.startswith("/api/") and response.status_code >= 400 and not is_json:
            status = response.status_code
            code, message = _STATUS_ERRORS.get(status, ("error", "The request failed."))
            if status >= 500:
                code, message = "server_error", "Something went wrong on our side."
            return _error_json(code, message, status)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith("/api/"):
            return None  # pages: Django's handler renders templates/500.html
        logger.error("Internal error on %s %s", request.method, request.path, exc_info=exception)
        return _error_json("server_error", "Something went wrong on our side.", 500)

    @staticmethod
    def _check(request: HttpRequest) -> None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type in _FORM_TYPES:
            return  # forms and uploads: Django's own DATA_UPLOAD_* limits apply
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise BodyRefused("bad_request", 400, "The Content-Length is not a number.") from None
        if length > settings.TAKEBACK_JSON_MAX_BYTES:
            raise BodyRefused("too_large", 413, "The request body is too large.")
        json_body_check(request.body)
