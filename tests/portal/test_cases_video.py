"""A video's vPDQ frames stored under its item: validation, storage, dedupe, withdrawal."""

import random

import pytest
from django.db import IntegrityError, transaction

from hashing.video import VpdqFrame
from portal.cases import services
from portal.cases.models import SubmittedHash
from portal.exceptions import ApplicationError
from tests.support.factories import SubmittedItemFactory, random_pdq

pytestmark = pytest.mark.django_db


def _video(frames: int = 4, **kwargs) -> services.SubmittedItem:
    return SubmittedItemFactory.build(video=True, frames=frames, **kwargs)


def test_a_videos_frames_are_stored_as_pdq_rows_of_its_item_in_frame_order():
    item = _video(4)
    created = services.case_create(items=[item])
    rows = list(created.case.hashes.order_by("feed_seq"))
    assert {r.algorithm for r in rows if not r.is_frame} == {"md5", "sha256"}
    frames = [r for r in rows if r.is_frame]
    assert [(r.frame, r.frame_timestamp, r.value, r.quality) for r in frames] == [
        (f.frame, f.timestamp, f.pdq, f.quality) for f in item.vpdq
    ]
    assert {r.media_kind for r in rows} == {"video"}
    assert {r.algorithm for r in frames} == {"pdq"}
    assert len({r.item_id for r in rows}) == 1  # one file: withdrawn as one


def test_weak_implausible_and_repeated_frames_are_left_out_not_refused():
    rng = random.Random(7)
    good = [random_pdq(rng) for _ in range(3)]
    frames = (
        VpdqFrame(0, 0.0, good[0], 90),
        VpdqFrame(30, 1.0, good[1], 49),  # under the quality floor
        VpdqFrame(60, 2.0, "0" * 64, 100),  # no bits set: no real frame has this
        VpdqFrame(90, 3.0, good[0], 90),  # seen before in this video
        VpdqFrame(120, 4.0, good[2], 80),
    )
    created = services.case_create(items=[_video(0, vpdq=frames)])
    stored = created.case.hashes.filter(frame__isnull=False).order_by("frame")
    assert [(r.frame, r.value) for r in stored] == [(0, good[0]), (120, good[2])]


@pytest.mark.parametrize(
    "frame",
    [
        VpdqFrame(-1, 0.0, "a" * 64, 90),
        VpdqFrame(0, -0.5, "a" * 64, 90),
        VpdqFrame(0, float("nan"), "a" * 64, 90),
        VpdqFrame(0, 0.0, "A" * 64, 90),
        VpdqFrame(0, 0.0, "a" * 63, 90),
        VpdqFrame(0, 0.0, "a" * 64, 101),
    ],
)
def test_a_malformed_frame_refuses_the_file_and_stores_nothing(frame):
    before = SubmittedHash.objects.count()
    with pytest.raises(ApplicationError) as refused:
        services.case_create(items=[_video(0, vpdq=(frame,))])
    assert refused.value.code == "bad_frame"
    assert SubmittedHash.objects.count() == before


def test_frames_out_of_order_or_on_a_photo_or_too_many_are_refused():
    rng = random.Random(3)
    a, b = random_pdq(rng), random_pdq(rng)
    backwards = (VpdqFrame(30, 1.0, a, 90), VpdqFrame(30, 1.0, b, 90))
    with pytest.raises(ApplicationError) as refused:
        services.case_create(items=[_video(0, vpdq=backwards)])
    assert refused.value.code == "bad_frame"
    with pytest.raises(ApplicationError) as refused:
        services.case_create(items=[SubmittedItemFactory.build(vpdq=(VpdqFrame(0, 0.0, a, 90),))])
    assert refused.value.code == "bad_frames"
    too_many = tuple(
        VpdqFrame(i, float(i), a, 90) for i in range(services.MAX_FRAMES_PER_VIDEO + 1)
    )
    with pytest.raises(ApplicationError) as refused:
        services.case_create(items=[_video(0, vpdq=too_many)])
    assert refused.value.code == "too_many_frames"


def test_the_same_video_twice_in_a_case_adds_nothing_but_a_trimmed_copy_keeps_shared_frames():
    item = _video(4)
    created = services.case_create(items=[item])
    assert services.hashes_add(case=created.case, items=[item]) == []
    trimmed = _video(0, vpdq=item.vpdq[1:3])  # other digests, two of the same frames
    added = services.hashes_add(case=created.case, items=[trimmed])
    assert sorted(r.value for r in added if r.is_frame) == sorted(f.pdq for f in item.vpdq[1:3])
    assert created.case.hashes.filter(frame__isnull=False).count() == 6


def test_a_frame_may_equal_a_photos_pdq_in_the_same_case():
    photo = SubmittedItemFactory.build()
    video = _video(0, vpdq=(VpdqFrame(0, 0.0, photo.hashes["pdq"], 90),))
    created = services.case_create(items=[photo, video])
    assert created.case.hashes.filter(algorithm="pdq", value=photo.hashes["pdq"]).count() == 2


def test_withdrawing_a_video_removes_its_frames_from_the_feed():
    created = services.case_create(items=[_video(3), SubmittedItemFactory.build()])
    video_item = created.case.hashes.get(algorithm="sha256", media_kind="video").item_id
    removed = services.item_withdraw(case=created.case, item_id=video_item)
    assert removed == 5  # two digests and three frames
    assert not created.case.hashes.filter(item_id=video_item, status="active").exists()


def test_the_database_refuses_a_frame_that_is_not_a_video_pdq():
    created = services.case_create(items=[_video(1)])
    row = created.case.hashes.get(frame__isnull=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        SubmittedHash.objects.filter(pk=row.pk).update(media_kind="image")
    with pytest.raises(IntegrityError), transaction.atomic():
        SubmittedHash.objects.filter(pk=row.pk).update(frame_timestamp=None)


def test_a_server_hashing_record_of_a_video_becomes_an_item_with_frames():
    record = {
        "media": "video",
        "md5": "1" * 32,
        "sha256": "2" * 64,
        "duration": 2.0,
        "vpdq": [{"frame": 0, "timestamp": 0.0, "pdq": "a" * 64, "quality": 90}],
    }
    item = services.item_from_record(record=record)
    assert item.media_kind == "video"
    assert item.hashes == {"md5": "1" * 32, "sha256": "2" * 64}
    assert item.vpdq == (VpdqFrame(0, 0.0, "a" * 64, 90),)
