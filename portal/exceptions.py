"""The project's domain errors: services raise these, interfaces turn them into messages."""


class ApplicationError(Exception):
    """A domain rule was broken; `code` is stable, `message` is for people."""

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra or {}
