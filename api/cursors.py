"""Opaque feed cursors: a signed position plus the filters it was issued for.

Clients must treat cursors as opaque strings. They are signed (Django's
signing with the secret key) so a forged or corrupted cursor is refused with
`bad_cursor` instead of silently serving the wrong window.
"""

from __future__ import annotations

import base64
import binascii

from django.core import signing

from portal.exceptions import ApplicationError
from portal.platforms.feed import FeedFilters

_SALT = "takeback.api.feed-cursor"
_VERSION = 1


def cursor_encode(*, position: int, filters: FeedFilters) -> str:
    signed = signing.dumps(
        {"v": _VERSION, "p": position, "a": filters.algorithm, "m": filters.media_kind},
        salt=_SALT,
        compress=False,
    )
    return base64.urlsafe_b64encode(signed.encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[int, FeedFilters]:
    """(position, filters) of a cursor; raises ApplicationError(code="bad_cursor")."""
    bad = ApplicationError("The cursor is not valid; use one this API returned.", code="bad_cursor")
    if not cursor or len(cursor) > 500:
        raise bad
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        signed = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        data = signing.loads(signed, salt=_SALT)
    except (binascii.Error, UnicodeError, ValueError, signing.BadSignature):
        raise bad from None
    if not isinstance(data, dict) or data.get("v") != _VERSION:
        raise bad
    position, algorithm, media_kind = data.get("p"), data.get("a"), data.get("m")
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise bad
    if not (algorithm is None or isinstance(algorithm, str)) or not (
        media_kind is None or isinstance(media_kind, str)
    ):
        raise bad
    return position, FeedFilters(algorithm=algorithm, media_kind=media_kind)
