"""factory_boy factories shared by the tests."""

import hashlib
import random

import factory

from portal.cases import services
from portal.cases.models import SubmittedHash


def random_pdq(rng: random.Random) -> str:
    bits = rng.sample(range(256), 128)
    return f"{sum(1 << b for b in bits):064x}"


class SubmittedItemFactory(factory.Factory):
    """The hashes of one image, as the browser would send them."""

    class Meta:
        model = services.SubmittedItem

    class Params:
        rng = factory.LazyFunction(lambda: random.Random())
        payload = factory.LazyAttribute(lambda o: o.rng.randbytes(32))

    media_kind = SubmittedHash.MediaKind.IMAGE
    pdq_quality = 90
    hashes = factory.LazyAttribute(
        lambda o: {
            "pdq": random_pdq(o.rng),
            "phash": f"{o.rng.getrandbits(64):016x}",
            "md5": hashlib.md5(o.payload, usedforsecurity=False).hexdigest(),
            "sha256": hashlib.sha256(o.payload).hexdigest(),
        }
    )


def case_with_items(count: int = 2, **kwargs) -> services.CaseCreated:
    return services.case_create(items=SubmittedItemFactory.build_batch(count), **kwargs)
