"""The API's JSON parser: size and nesting depth are checked before the text is parsed.

RequestLimitsMiddleware already refuses such bodies for every request; this parser
is the same check where DRF reads the body, so an API view is safe on its own too
(a 100,000-level array used to end in RecursionError and a 500).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from portal.web.middleware import BodyRefused, json_loads_bounded


class _Refused(APIException):
    def __init__(self, refused: BodyRefused) -> None:
        super().__init__(detail=refused.message, code=refused.code)
        self.status_code = refused.status


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        body = stream.read(settings.TAKEBACK_JSON_MAX_BYTES + 1) if stream is not None else b""
        try:
            return json_loads_bounded(body)
        except BodyRefused as refused:
            raise _Refused(refused) from None
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
