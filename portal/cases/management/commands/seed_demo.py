"""`manage.py seed_demo`: demo cases with realistic random hashes.

Random PDQ values have 128 of 256 bits set, as real PDQ hashes do (the median
threshold splits the coefficients in half), pHash values 32 of 64 for the
same reason, dHash values are random 64-bit values (within the plausibility
band of portal/cases/plausibility.py); MD5/SHA-256 are digests of random bytes.
"""

import hashlib
import json
import random

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from portal.cases import services
from portal.cases.models import SubmittedHash


def random_pdq(rng: random.Random) -> str:
    bits = rng.sample(range(256), 128)
    return f"{sum(1 << b for b in bits):064x}"


def random_phash(rng: random.Random) -> str:
    return f"{sum(1 << b for b in rng.sample(range(64), 32)):016x}"


def random_dhash(rng: random.Random) -> str:
    while True:  # outside the band (4-60 bits set) once in ~10^14 draws
        value = rng.getrandbits(64)
        if 4 <= value.bit_count() <= 60:
            return f"{value:016x}"


def random_item(rng: random.Random) -> services.SubmittedItem:
    payload = rng.randbytes(64)
    return services.SubmittedItem(
        media_kind=SubmittedHash.MediaKind.IMAGE,
        hashes={
            "pdq": random_pdq(rng),
            "phash": random_phash(rng),
            "dhash": random_dhash(rng),
            "md5": hashlib.md5(payload, usedforsecurity=False).hexdigest(),
            "sha256": hashlib.sha256(payload).hexdigest(),
        },
        pdq_quality=rng.randint(60, 100),
    )


class Command(BaseCommand):
    help = "Create demo cases with random hashes and print counts as one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=20)
        parser.add_argument("--hashes-per-case", type=int, default=3, help="files per case")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, cases: int, hashes_per_case: int, seed: int | None, **options) -> None:
        if cases < 0 or hashes_per_case < 1:
            self.stderr.write("--cases must be >= 0 and --hashes-per-case >= 1")
            raise SystemExit(2)
        rng = random.Random(seed)
        for _ in range(cases):
            services.case_create(items=[random_item(rng) for _ in range(hashes_per_case)])
        active = (
            SubmittedHash.objects.filter(status=SubmittedHash.Status.ACTIVE)
            .values("algorithm")
            .annotate(n=Count("id"))
        )
        result = {
            "cases_created": cases,
            "active_hashes": {row["algorithm"]: row["n"] for row in active},
        }
        self.stdout.write(json.dumps(result, sort_keys=True))
