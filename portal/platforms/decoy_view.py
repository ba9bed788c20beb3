"""How a platform sees its own decoys: with its own feedback, others' corroboration, and
as matches, exactly as it sees real hashes (issue 9: decoys nobody can strip).

Two probes told decoys apart: (1) report "blocked" on every fetched hash and fetch
again: only decoys came back without the report; (2) send every feed hash to /match:
only decoys did not match themselves. Here a platform's report on its decoy is kept
(trust.DecoyFeedback) and served back in its feed and match answers, and its decoys
match for it (never for another platform). Corroboration (other platforms' counts)
on a decoy mirrors a real hash of the same algorithm, its *twin*: the first real hash
after the decoy in feed order, so decoys show the same spread of counts as real
hashes and change as they do. The twin's counts are visible to this platform anyway.

A leaf under feed.py and matching.py: both read decoys through here.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashing.algorithms import ALGORITHMS
from hashing.distance import hamming_distance
from portal.cases.models import SubmittedHash
from portal.platforms.models import Decoy, HashFeedback, Platform
from portal.platforms.selectors import no_feedback
from portal.trust.models import DecoyFeedback


def _twin_counts(*, platform: Platform, decoy: Decoy) -> dict[str, int]:
    twin = (
        SubmittedHash.objects.filter(
            algorithm=decoy.algorithm,
            status=SubmittedHash.Status.ACTIVE,
            feed_seq__gt=decoy.feed_seq,
        )
        .order_by("feed_seq")
        .values_list("pk", flat=True)
        .first()
    )
    counts = no_feedback()
    if twin is None:
        return counts
    for outcome in (
        HashFeedback.objects.filter(submitted_hash_id=twin)
        .exclude(platform=platform)
        .values_list("outcome", flat=True)
    ):
        counts[outcome] += 1
    return counts


def decoy_feedback_counts(*, platform: Platform, decoys: list[Decoy]) -> dict[int, dict[str, int]]:
    """Per decoy of `platform`: feedback counts shaped and moving as a real hash's do."""
    own = dict(
        DecoyFeedback.objects.filter(platform=platform, decoy__in=decoys).values_list(
            "decoy_id", "outcome"
        )
    )
    found = {}
    for decoy in decoys:
        counts = _twin_counts(platform=platform, decoy=decoy)
        if decoy.pk in own:
            counts[own[decoy.pk]] += 1
        found[decoy.pk] = counts
    return found


@dataclass(frozen=True)
class DecoyHit:
    decoy: Decoy
    distance: int
    query_value: str
    feedback: dict[str, int]


def decoys_active(*, platform: Platform, algorithms: set[str]) -> dict[str, list[Decoy]]:
    """The platform's active decoys of `algorithms`, by algorithm: read once per batch."""
    found: dict[str, list[Decoy]] = {algorithm: [] for algorithm in algorithms}
    for decoy in Decoy.objects.filter(
        platform=platform, algorithm__in=algorithms, status=Decoy.Status.ACTIVE
    ):
        found[decoy.algorithm].append(decoy)
    return found


def decoy_matches(
    *,
    platform: Platform,
    algorithm: str,
    forms: tuple[str, ...],
    threshold: int,
    decoys: list[Decoy] | None = None,
) -> list[DecoyHit]:
    """The platform's own decoys within `threshold` of any of `forms` (exact for digests).

    `decoys`: the platform's active decoys of `algorithm` (`decoys_active`), when a batch
    has read them already; else they are read here.
    """
    if decoys is None:
        decoys = decoys_active(platform=platform, algorithms={algorithm})[algorithm]
    hits: list[tuple[Decoy, int, str]] = []
    for decoy in decoys:
        if ALGORITHMS[algorithm].exact:
            best = [(0, form) for form in forms if form == decoy.value]
        else:
            best = sorted(
                (d, form)
                for form in forms
                if (d := hamming_distance(form, decoy.value)) <= threshold
            )
        if best:
            hits.append((decoy, *best[0]))
    if not hits:
        return []
    counts = decoy_feedback_counts(platform=platform, decoys=[d for d, _, _ in hits])
    return [
        DecoyHit(decoy=decoy, distance=distance, query_value=form, feedback=counts[decoy.pk])
        for decoy, distance, form in hits
    ]
