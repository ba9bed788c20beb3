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

    A decoy belongs to a fake case holding a few files, as a real submission does
    (decoys.py gives each its case and file keys). Negative case ids and the `decoy:`
    item prefix can never collide with a real case (positive ids) or file (a UUID).
    """
    return Disguise(
        case_id=pseudonymous_case_id(platform=platform, case_id=-decoy.case_key),
        item_id=pseudonymous_item_id(platform=platform, item_id=f"decoy:{decoy.item_key}"),
    )
