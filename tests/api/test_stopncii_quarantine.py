"""Quarantine through the real threatexchange StopNCII client (issue 9): two platforms'
NotBlocked verdicts pull a hash out of every platform's list within one fetch, as
`Deleted`; restoring it brings it back as `Active`."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth import get_user_model

from portal.cases import services as cases
from portal.cases.models import SubmittedHash
from portal.platforms import services as platforms
from portal.trust import review
from portal.trust.models import ReviewItem
from tests.api.test_stopncii_client import (
    CaseStatus,
    Consumer,
    FeedbackValue,
    SignalType,
    client_for,
    live_server_resources,  # noqa: F401 - the autouse fixture of that module, here too
)
from tests.support.factories import SubmittedItemFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_platforms_not_blocked_pull_a_hash_within_one_fetch(live_server):
    rng = random.Random(9)
    acme = platforms.platform_create(name="Acme")
    other = platforms.platform_create(name="Other")
    case = cases.case_create(items=SubmittedItemFactory.build_batch(2, rng=rng)).case
    pdq = case.hashes.filter(algorithm="pdq").first().value
    key = (SignalType.ImagePDQ, pdq)
    consumers = [Consumer(client_for(live_server, p), p.platform) for p in (acme, other)]
    for consumer in consumers:
        consumer.fetch()
        assert key in consumer.held
    consumers[0].api.submit_feedback(SignalType.ImagePDQ, pdq, FeedbackValue.NotBlocked)
    consumers[0].fetch()
    assert key in consumers[0].held  # one platform's verdict is not enough
    consumers[1].api.submit_feedback(SignalType.ImagePDQ, pdq, FeedbackValue.NotBlocked)
    for consumer in consumers:
        consumer.fetch()  # one fetch each
        assert key not in consumer.held
        assert (SignalType.ImagePDQ, pdq, CaseStatus.Deleted) in consumer.seen
    assert SubmittedHash.objects.get(value=pdq).status == "quarantined"
    # The operator restores it: back as Active on the next fetch.
    operator = get_user_model().objects.create_user("op", is_staff=True)
    item = ReviewItem.objects.get(submitted_hash__value=pdq)
    review.review_restore(review=item, user=operator, note="reviewed: NCII")
    consumers[0].fetch()
    assert consumers[0].held[key].hashStatus == CaseStatus.Active
