"""One change, every way a platform can receive it: the bodies agree where they overlap.

The native feed, the snapshot, a webhook delivery and the StopNCII-compatible
FetchHashes all describe the same stored change. The feed and the webhook send
the one wire form (`feed.entry_wire`) byte for byte; the snapshot's row is the
same values under the same names; the StopNCII record carries the same value,
the signal type the registry assigns, the platform's pseudonym and time.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime

from django.urls import reverse
from rest_framework.test import APIClient

from hashing.algorithms import stopncii_signal
from portal.cases import services as cases
from portal.platforms import services, webhooks
from portal.platforms.models import Decoy, WebhookDelivery
from portal.platforms.pseudonyms import pseudonymous_item_id
from portal.platforms.snapshot import SNAPSHOT_FIELDS
from tests.support.factories import SubmittedItemFactory


def _clients(created) -> tuple[APIClient, APIClient]:
    native, stopncii = APIClient(), APIClient()
    native.credentials(HTTP_AUTHORIZATION=f"Bearer {created.api_key.raw}")
    stopncii.credentials(
        HTTP_X_FUNCTIONS_KEY=created.stopncii_function_key.raw,
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=created.stopncii_subscription_key.raw,
    )
    return native, stopncii


def _everything(created):
    native, stopncii = _clients(created)
    feed = native.get(reverse("v1:hash-feed"), {"limit": 1000}).json()["entries"]
    response = native.get(reverse("v1:hash-snapshot"))
    lines = gzip.decompress(b"".join(response.streaming_content)).decode().splitlines()
    snapshot = [json.loads(line) for line in lines][1:-1]
    webhooks.webhooks_dispatch()
    pushed = [
        entry
        for delivery in WebhookDelivery.objects.order_by("first_seq")
        for entry in json.loads(json.dumps(delivery.payload))["entries"]
    ]
    fetch = stopncii.get("/api/stopncii/v1/FetchHashes", {"startTimestamp": 0, "pageSize": 800})
    return feed, snapshot, pushed, fetch.json()["hashRecords"]


def test_feed_snapshot_webhook_and_stopncii_agree_on_the_same_changes(db):
    platform = services.platform_create(name="Acme")
    endpoint = webhooks.webhook_create(
        platform=platform.platform, url="https://example.org/hook"
    ).endpoint
    created = cases.case_create(items=SubmittedItemFactory.build_batch(2))
    feed, snapshot, pushed, records = _everything(platform)
    assert feed and pushed

    # The webhook sends exactly the feed's entries after its registration.
    by_seq = {entry["seq"]: entry for entry in feed}
    for entry in pushed:
        assert entry == by_seq[entry["seq"]]
    assert {e["seq"] for e in pushed} == {
        e["seq"] for e in feed if e["seq"] > endpoint.enqueued_seq
    }

    # The snapshot's rows are the feed's values under the same names.
    for row in snapshot:
        assert {k: row[k] for k in SNAPSHOT_FIELDS} == {
            k: by_seq[row["seq"]][k] for k in SNAPSHOT_FIELDS
        }
    assert {r["seq"] for r in snapshot} == {e["seq"] for e in feed if e["op"] == "add"}

    # StopNCII records: the exchanged hashes, with the feed's pseudonym, status and time.
    exchanged = {
        e["value"]: e for e in feed if stopncii_signal(e["algorithm"], e["media_kind"]) is not None
    }
    assert {r["hashValue"] for r in records} == set(exchanged)
    for record in records:
        entry = exchanged[record["hashValue"]]
        assert record["signalType"] == stopncii_signal(entry["algorithm"], entry["media_kind"])
        assert record["caseNumbers"] == {entry["case_id"]: "Active"}
        changed = datetime.fromisoformat(entry["changed_at"].replace("Z", "+00:00"))
        assert record["lastModtimestamp"] == int(changed.timestamp())

    # A withdrawal: the removals agree too.
    cases.case_withdraw(case=created.case)
    feed, _, pushed, records = _everything(platform)
    removals = {e["seq"]: e for e in feed if e["op"] == "remove"}
    assert removals and all(removals[e["seq"]] == e for e in pushed if e["op"] == "remove")
    for record in records:
        if record["hashValue"] in {e["value"] for e in removals.values()}:
            assert record["hashStatus"] == "Withdrawn"
    assert Decoy.objects.filter(platform=platform.platform).exists()


def test_a_videos_entries_agree_across_feed_snapshot_and_webhook_and_frames_stay_native(db):
    """A video: its digests and frames under one item_id, frame/timestamp on every form;
    the StopNCII exchange carries its MD5 as VideoMD5 and never a frame as ImagePDQ."""
    platform = services.platform_create(name="Acme")
    webhooks.webhook_create(platform=platform.platform, url="https://example.org/hook")
    created = cases.case_create(
        items=[SubmittedItemFactory.build(video=True, frames=5), SubmittedItemFactory.build()]
    )
    video_item = str(created.case.hashes.get(algorithm="md5", media_kind="video").item_id)
    stored_frames = {
        h.value: (h.frame, h.frame_timestamp)
        for h in created.case.hashes.filter(frame__isnull=False)
    }
    assert len(stored_frames) == 5
    feed, snapshot, pushed, records = _everything(platform)

    pseudonym = pseudonymous_item_id(platform=platform.platform, item_id=video_item)

    def video_entries(entries):
        # The video's rows are grouped by its pseudonymous item id (decoys have their own).
        return {
            (e["algorithm"], e["value"]): (e["frame"], e["timestamp"])
            for e in entries
            if e["item_id"] == pseudonym
        }

    from_feed = video_entries(feed)
    assert from_feed == video_entries(snapshot) == video_entries(pushed)
    frames = {value: spot for (algorithm, value), spot in from_feed.items() if spot[0] is not None}
    assert frames == stored_frames
    assert {a for (a, _), spot in from_feed.items() if spot == (None, None)} == {"md5", "sha256"}
    # Every feed and webhook entry carries the two keys, null off video frames.
    assert all("frame" in e and "timestamp" in e for e in feed + pushed)
    assert all(e["frame"] is None for e in feed if e["media_kind"] == "image")

    by_value = {r["hashValue"]: r["signalType"] for r in records}
    (md5,) = [value for (algorithm, value) in from_feed if algorithm == "md5"]
    assert by_value[md5] == "VideoMD5"
    assert not set(frames) & set(by_value), "a video frame left as ImagePDQ"
    image_pdq = created.case.hashes.get(algorithm="pdq", media_kind="image").value
    assert by_value[image_pdq] == "ImagePDQ"
    assert video_item  # the stored item id never reaches the platform as such
    assert video_item not in json.dumps([feed, snapshot, pushed, records])
