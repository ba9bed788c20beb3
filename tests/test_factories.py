"""The shared factories' traits make the states they name."""

import pytest

from hashing.pdq import PDQ_QUALITY_FLOOR
from portal.cases.models import Case, SubmittedHash
from tests.support.factories import CaseFactory, SubmittedItemFactory


def test_item_traits():
    photo = SubmittedItemFactory.build()
    assert set(photo.hashes) == {"pdq", "phash", "md5", "sha256"} and photo.pdq_quality >= 50
    video = SubmittedItemFactory.build(video=True)
    assert video.media_kind == "video" and set(video.hashes) == {"md5", "sha256"}
    assert SubmittedItemFactory.build(low_quality=True).pdq_quality == PDQ_QUALITY_FLOOR - 1


@pytest.mark.django_db
def test_case_traits():
    created = CaseFactory(files=3, recoverable=True)
    assert created.recovery_code and created.case.status == Case.Status.ACTIVE
    assert created.case.hashes.values("item_id").distinct().count() == 3
    withdrawn = CaseFactory(withdrawn=True).case
    assert withdrawn.status == Case.Status.WITHDRAWN
    assert not withdrawn.hashes.filter(status=SubmittedHash.Status.ACTIVE).exists()
