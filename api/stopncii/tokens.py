"""Opaque FetchHashes page tokens: a signed, compressed feed position.

The token carries the exact feed position a chain of pages has reached, so the
next page starts strictly after it. It is signed with the project's secret key
(django.core.signing) and bound to the platform, so a client can't forge a
position, and one platform's token is useless to another.
"""

from __future__ import annotations

from django.core import signing

from portal.platforms.models import Platform
from portal.platforms.stopncii import FeedPosition

_SALT = "takeback.stopncii.page-token.v1"
# StopNCII documents page tokens as not valid over long periods; a week covers
# a slow consumer, and an expired chain restarts from its checkpoint timestamp.
TOKEN_MAX_AGE_SECONDS = 7 * 24 * 3600


class BadPageToken(Exception):
    pass


def page_token_encode(*, platform: Platform, position: FeedPosition) -> str:
    payload = {
        "p": platform.pk,
        "a": position.after_seq,
        "s": position.start_timestamp,
        "m": position.max_timestamp,
        "k": position.skip_removed_upto,
    }
    return signing.dumps(payload, salt=_SALT, compress=True)


def page_token_decode(*, platform: Platform, token: str) -> FeedPosition:
    try:
        payload = signing.loads(token, salt=_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
    except signing.SignatureExpired as exc:
        raise BadPageToken("nextPageToken has expired; restart from your checkpoint.") from exc
    except signing.BadSignature as exc:
        raise BadPageToken("nextPageToken is not a token this exchange issued.") from exc
    if not isinstance(payload, dict) or payload.get("p") != platform.pk:
        raise BadPageToken("nextPageToken was issued to another platform.")
    try:
        return FeedPosition(
            after_seq=int(payload["a"]),
            start_timestamp=int(payload["s"]),
            max_timestamp=int(payload["m"]),
            skip_removed_upto=int(payload["k"]),
        )
    except (KeyError, TypeError, ValueError) as exc:  # pragma: no cover - signed by us
        raise BadPageToken("nextPageToken is malformed.") from exc
