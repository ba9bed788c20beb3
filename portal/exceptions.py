"""The project's domain errors: services raise these, interfaces turn them into messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a dev dependency (django-stubs); at runtime it is str | Promise
    from django_stubs_ext import StrOrPromise


class ApplicationError(Exception):
    """A domain rule was broken; `code` is stable, `message` is for people."""

    code = "invalid"

    # `message` may be a lazy translation: interfaces render it with str() when shown.
    def __init__(
        self, message: StrOrPromise, *, code: str | None = None, extra: dict | None = None
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra or {}
