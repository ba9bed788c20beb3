"""Per-platform pseudonyms for cases and files, and the disguise that makes decoys look real.

Platforms never see case numbers. Each gets ids derived with HMAC from its own
secret salt: stable for that platform, unrelated between platforms, and
impossible to turn back into a case. A decoy (leak tracing, see decoys.py) gets
pseudonyms of the same shape from `decoy_disguise`, the one place that says
how a decoy poses as a case.
"""

import hashlib
import hmac
from dataclasses import dataclass

from hashing.algorithms import ALGORITHMS
from portal.platforms.models import Decoy, Platform


def pseudonymous_case_id(*, platform: Platform, case_id: int) -> str:
    """A stable per-platform id for a case that reveals nothing about it."""
    return f"pc_{_pseudonym(platform=platform, text=f'case:{case_id}')}"


def pseudonymous_item_id(*, platform: Platform, item_id: str) -> str:
    """A stable per-platform id for one submitted file (groups its hashes)."""
    return f"pi_{_pseudonym(platform=platform, text=f'item:{item_id}')}"


def _pseudonym(*, platform: Platform, text: str) -> str:
    return pseudonym_digest(key=platform.pseudonym_salt.encode(), text=text).hex()


def pseudonym_digest(*, key: bytes, text: str) -> bytes:
    """The 12 bytes a pseudonym's 24 hex digits spell (the binary snapshot sends these)."""
    return hmac.digest(key, text.encode(), hashlib.sha256)[:12]


@dataclass(frozen=True)
class Disguise:
    case_id: str
    item_id: str


def decoy_disguise(*, platform: Platform, decoy: Decoy) -> Disguise:
    """The pseudonyms a decoy is served with: shaped exactly like a real hash's.

    A platform's decoys pose as one case holding a few files, as a real submission
    does: in feed order, a file is a run of decoys of one media kind in the
    registry's algorithm order (decoys.DECOY_FILES); it is named after its first
    decoy, and the case after the platform's first decoy. Negative case ids and the
    `decoy:` item prefix can never collide with a real case (positive ids) or file
    (a UUID).
    """
    rows = list(
        Decoy.objects.filter(platform_id=decoy.platform_id, feed_seq__lte=decoy.feed_seq)
        .order_by("feed_seq")
        .values_list("pk", "algorithm", "media_kind")
    )
    order = list(ALGORITHMS)
    file_start, previous = decoy.pk, None
    for pk, algorithm, media_kind in rows:
        rank = (media_kind, order.index(algorithm) if algorithm in order else 0)
        if previous is None or rank[0] != previous[0] or rank[1] <= previous[1]:
            file_start = pk
        previous = rank
    first = rows[0][0] if rows else decoy.pk
    return Disguise(
        case_id=pseudonymous_case_id(platform=platform, case_id=-first),
        item_id=pseudonymous_item_id(platform=platform, item_id=f"decoy:{file_start}"),
    )
