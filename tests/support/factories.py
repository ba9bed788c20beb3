"""factory_boy factories shared by the tests; states are traits, not magic numbers.

SubmittedItemFactory.build()                   # the hashes of one photo
SubmittedItemFactory.build(video=True)         # a video: its digests only
SubmittedItemFactory.build(video=True, frames=5)  # a video with 5 vPDQ frames, 1 s apart
SubmittedItemFactory.build(low_quality=True)   # PDQ quality under the floor
CaseFactory(files=3, recoverable=True)         # CaseCreated: case, PIN, recovery code
CaseFactory(withdrawn=True)
"""

import hashlib
import io
import random

import factory
import numpy as np
from PIL import Image

from hashing.pdq import PDQ_QUALITY_FLOOR
from hashing.video import VpdqFrame
from portal.cases import services
from portal.cases.models import SubmittedHash


def random_pdq(rng: random.Random) -> str:
    """A random PDQ value with 128 of 256 bits set, as real ones have."""
    bits = rng.sample(range(256), 128)
    return f"{sum(1 << b for b in bits):064x}"


def random_phash(rng: random.Random) -> str:
    """A random pHash value with 32 of 64 bits set (its median split), as real ones have."""
    return f"{sum(1 << b for b in rng.sample(range(64), 32)):016x}"


def random_png(seed: int) -> bytes:
    """A 160x120 PNG of random pixels (a file a victim could upload), the same for a seed."""
    pixels = np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def _digests(payload: bytes) -> dict[str, str]:
    return {
        "md5": hashlib.md5(payload, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


class SubmittedItemFactory(factory.Factory):
    """The hashes of one file, as the browser would send them."""

    class Meta:
        model = services.SubmittedItem

    class Params:
        rng = factory.LazyFunction(lambda: random.Random())
        payload = factory.LazyAttribute(lambda o: o.rng.randbytes(32))
        # vPDQ frames of a video (30 fps, one sampled a second); 0: digests only.
        frames = 0
        # A video: the browser sends its exact digests only.
        video = factory.Trait(
            media_kind=SubmittedHash.MediaKind.VIDEO,
            pdq_quality=None,
            hashes=factory.LazyAttribute(lambda o: _digests(o.payload)),
        )
        # A photo whose PDQ quality is under the floor (refused if sent with its PDQ).
        low_quality = factory.Trait(pdq_quality=PDQ_QUALITY_FLOOR - 1)

    media_kind = SubmittedHash.MediaKind.IMAGE
    pdq_quality = 90
    vpdq = factory.LazyAttribute(
        lambda o: tuple(
            VpdqFrame(frame=30 * i, timestamp=float(i), pdq=random_pdq(o.rng), quality=90)
            for i in range(o.frames)
        )
    )
    hashes = factory.LazyAttribute(
        lambda o: {
            "pdq": random_pdq(o.rng),
            "phash": random_phash(o.rng),
            **_digests(o.payload),
        }
    )


class CaseFactory(factory.Factory):
    """A case made through the real service; builds a `CaseCreated` (case, PIN, code)."""

    class Meta:
        model = services.CaseCreated

    class Params:
        # Shown a recovery code at creation.
        recoverable = factory.Trait(with_recovery_code=True)
        # Withdrawn by the victim after creation: its hashes left the feed as removals.
        withdrawn = factory.Trait(withdraw=True)

    files = 2
    with_recovery_code = False
    withdraw = False

    @classmethod
    def _create(cls, model_class, *, files, with_recovery_code, withdraw, **kwargs):
        created = services.case_create(
            items=SubmittedItemFactory.build_batch(files),
            with_recovery_code=with_recovery_code,
            **kwargs,
        )
        if withdraw:
            services.case_withdraw(case=created.case)
            created.case.refresh_from_db()
        return created

    _build = _create


def case_with_items(count: int = 2, **kwargs) -> services.CaseCreated:
    """A case holding `count` files (shorthand for the many tests that only need a case)."""
    return services.case_create(items=SubmittedItemFactory.build_batch(count), **kwargs)
