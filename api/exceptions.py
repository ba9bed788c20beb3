"""One exception handler for the whole API: every error is JSON with a stable code.

Shape: `{"code": "...", "message": "...", "details": ...}`. `code` is what
clients branch on and never changes for a given condition; `message` is for
people; `details` carries field errors or extra facts (or null).

Domain errors (`portal.exceptions.ApplicationError`), Django's
`ValidationError`, `Http404` and `PermissionDenied` are mapped here as in
HackSoft's styleguide example (`api/exception_handlers.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from portal.exceptions import ApplicationError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Domain error codes that are not plain "bad request".
_APPLICATION_STATUS = {
    "not_found": status.HTTP_404_NOT_FOUND,
    "duplicate": status.HTTP_409_CONFLICT,
    "conflict": status.HTTP_409_CONFLICT,
}


class ApiError(exceptions.APIException):
    """An APIException carrying our code, message and details."""

    def __init__(self, *, status_code: int, code: str, message: StrOrPromise, details: Any = None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details


def _as_drf(exc: Exception) -> Exception:
    if isinstance(exc, ApplicationError):
        return ApiError(
            status_code=_APPLICATION_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST),
            code=exc.code,
            message=exc.message,
            details=exc.extra or None,
        )
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def _first_code(codes: Any) -> str:
    """The code of a plain APIException (DRF gives a string, list or dict)."""
    if isinstance(codes, str):
        return codes
    if isinstance(codes, list) and codes:
        return _first_code(codes[0])
    if isinstance(codes, dict) and codes:
        return _first_code(next(iter(codes.values())))
    return "error"


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: unknown exceptions stay 500s (and are logged)."""
    exc = _as_drf(exc)
    # DRF's handler sets the WWW-Authenticate/Retry-After headers and rolls
    # back the request's transaction (ATOMIC_REQUESTS): nothing changes on error.
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body = {"code": exc.code, "message": exc.message, "details": exc.details}
    elif isinstance(exc, exceptions.ValidationError):
        body = {
            "code": "validation_error",
            "message": "The request is not valid; see details.",
            # {"field": [{"message": ..., "code": ...}]}: codes are stable per field.
            "details": exc.get_full_details(),
        }
    elif isinstance(exc, exceptions.APIException):
        details = None
        # Throttled sets `wait` in __init__; the DRF stubs don't declare it.
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:  # type: ignore[attr-defined]
            details = {"retry_after_seconds": int(exc.wait) + 1}  # type: ignore[attr-defined]
        detail = exc.detail
        message = str(detail) if not isinstance(detail, list | dict) else "Request failed."
        body = {"code": _first_code(exc.get_codes()), "message": message, "details": details}
    else:  # pragma: no cover - DRF only handles APIException, Http404, PermissionDenied
        return response
    response.data = body
    return response
