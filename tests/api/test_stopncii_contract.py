"""Contract tests of the StopNCII-compatible exchange: auth, parameters, every bad input.

Each bad request gets a 4xx JSON error with a stable code, and changes nothing:
no feed position recorded, no feedback, no case.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from portal.cases import services as cases
from portal.cases.models import Case, SubmittedHash
from portal.cases.positions import feed_head
from portal.platforms import pseudonyms
from portal.platforms import services as platforms
from portal.platforms.models import Decoy, HashFeedback, Platform
from portal.platforms.services import SCOPE_STOPNCII
from portal.platforms.stopncii import SCOPE_STOPNCII_SUBMIT
from tests.support.factories import SubmittedItemFactory, random_pdq
from tests.support.platforms import assert_error

pytestmark = pytest.mark.django_db

FETCH = "/api/stopncii/v1/FetchHashes"
FEEDBACK = "/api/stopncii/v1/SubmitFeedback"
SUBMIT = "/api/stopncii/v1/SubmitHashes"


def keyed(fn: str, sub: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_FUNCTIONS_KEY=fn, HTTP_OCP_APIM_SUBSCRIPTION_KEY=sub)
    return client


@pytest.fixture
def acme() -> platforms.PlatformCreated:
    return platforms.platform_create(name="Acme")


@pytest.fixture
def acme_client(acme) -> APIClient:
    return keyed(acme.stopncii_function_key.raw, acme.stopncii_subscription_key.raw)


@pytest.fixture
def case() -> Case:
    return cases.case_create(items=SubmittedItemFactory.build_batch(2, rng=random.Random(1))).case


def decoy_values(platform: Platform) -> set[str]:
    """The platform's leak-tracing decoys (platform_create may add some)."""
    return set(Decoy.objects.filter(platform=platform).values_list("value", flat=True))


def fetched(platform: Platform) -> tuple[int, object]:
    platform.refresh_from_db()
    return platform.fetched_seq, platform.fetched_at


# Authentication ----------------------------------------------------------------


def test_urls_are_the_stopncii_paths():
    assert reverse("stopncii:fetch-hashes") == FETCH
    assert reverse("stopncii:submit-feedback") == FEEDBACK
    assert reverse("stopncii:submit-hashes") == SUBMIT


def test_no_keys_is_401_with_the_scheme_named(acme, case):
    response = APIClient().get(FETCH)
    assert_error(response, 401, "not_authenticated")
    assert "x-functions-key" in response["WWW-Authenticate"]
    assert fetched(acme.platform) == (0, None)


def test_native_bearer_key_is_not_a_stopncii_key(acme, case):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {acme.api_key.raw}")
    assert_error(client.get(FETCH), 401, "not_authenticated")


@pytest.mark.parametrize(
    "which",
    [
        "only_function",
        "only_subscription",
        "bad_function",
        "bad_subscription",
        "swapped",
        "native_as_function",
        "garbage",
    ],
)
def test_bad_key_pairs_are_401_and_change_nothing(acme, case, which):
    fn, sub = acme.stopncii_function_key.raw, acme.stopncii_subscription_key.raw
    pairs = {
        "only_function": (fn, ""),
        "only_subscription": ("", sub),
        "bad_function": (fn[:-4] + "AAAA", sub),
        "bad_subscription": (fn, sub[:-4] + "AAAA"),
        "swapped": (sub, fn),
        "native_as_function": (acme.api_key.raw, sub),
        "garbage": ("not-a-key", "also not"),
    }
    client = keyed(*pairs[which])
    assert_error(client.get(FETCH, {"startTimestamp": 10}), 401, "invalid_api_key")
    assert_error(client.post(FEEDBACK, {}, format="json"), 401, "invalid_api_key")
    assert fetched(acme.platform) == (0, None)


def test_keys_of_two_platforms_are_refused(acme, case):
    other = platforms.platform_create(name="Other")
    client = keyed(acme.stopncii_function_key.raw, other.stopncii_subscription_key.raw)
    body = assert_error(client.get(FETCH), 401, "invalid_api_key")
    assert "different platforms" in body["message"]


def test_revoked_key_and_inactive_platform_are_refused(acme, acme_client, case):
    assert acme_client.get(FETCH).status_code == 200
    platforms.api_key_revoke(api_key=acme.stopncii_subscription_key.api_key)
    assert_error(acme_client.get(FETCH), 401, "invalid_api_key")

    other = platforms.platform_create(name="Other")
    client = keyed(other.stopncii_function_key.raw, other.stopncii_subscription_key.raw)
    Platform.objects.filter(pk=other.platform.pk).update(is_active=False)
    assert_error(client.get(FETCH), 401, "invalid_api_key")


def test_a_function_key_without_the_stopncii_scope_is_403(acme, case):
    fn = platforms.api_key_issue(platform=acme.platform, kind="stopncii_fn", scopes=[]).raw
    client = keyed(fn, acme.stopncii_subscription_key.raw)
    assert_error(client.get(FETCH), 403, "insufficient_scope")


# FetchHashes -------------------------------------------------------------------


def test_fetch_shape_and_only_contract_signal_types(acme, acme_client, case):
    response = acme_client.get(FETCH, {"startTimestamp": 10, "pageSize": 800})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "count",
        "nextPageToken",
        "nextSetTimestamp",
        "hasMoreRecords",
        "hashRecords",
    }
    pdqs = set(case.hashes.filter(algorithm="pdq").values_list("value", flat=True))
    decoys = decoy_values(acme.platform)
    real = [r for r in body["hashRecords"] if r["hashValue"] not in decoys]
    # The decoys the exchange carries: PDQ and video MD5 (decoys.DECOY_FILES).
    exchanged_decoys = set(
        Decoy.objects.filter(platform=acme.platform, algorithm="pdq").values_list(
            "value", flat=True
        )
    ) | set(
        Decoy.objects.filter(
            platform=acme.platform, algorithm="md5", media_kind="video"
        ).values_list("value", flat=True)
    )
    assert body["count"] == len(body["hashRecords"]) == 2 + len(exchanged_decoys)
    assert {r["hashValue"] for r in body["hashRecords"]} - pdqs == exchanged_decoys
    assert body["hasMoreRecords"] is False
    assert {r["hashValue"] for r in real} == pdqs  # no pHash/SHA-256/image MD5
    record = real[0]
    assert set(record) == {
        "lastModtimestamp",
        "signalType",
        "hashValue",
        "hashStatus",
        "caseNumbers",
        "CSPFeedbacks",
    }
    assert record["signalType"] == "ImagePDQ" and record["hashStatus"] == "Active"
    assert list(record["caseNumbers"].values()) == ["Active"]
    assert body["nextSetTimestamp"] == max(r["lastModtimestamp"] for r in body["hashRecords"])


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": 0},
        {"pageSize": 10_001},
        {"pageSize": "many"},
        {"startTimestamp": -1},
        {"startTimestamp": "yesterday"},
        {"startTimestamp": 10**15},
    ],
)
def test_bad_parameters_are_400_and_change_nothing(acme, acme_client, case, params):
    body = assert_error(acme_client.get(FETCH, params), 400, "validation_error")
    assert set(body["details"]) <= {"pageSize", "startTimestamp"}
    assert fetched(acme.platform) == (0, None)


def test_bad_page_tokens_are_400_and_change_nothing(acme, acme_client, case):
    good = acme_client.get(FETCH, {"pageSize": 1}).json()["nextPageToken"]
    before = fetched(acme.platform)
    other = platforms.platform_create(name="Other")
    other_token = (
        keyed(other.stopncii_function_key.raw, other.stopncii_subscription_key.raw)
        .get(FETCH, {"pageSize": 1})
        .json()["nextPageToken"]
    )
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for token in ["garbage", tampered, "x" * 1999, other_token, good.replace(":", ";")]:
        response = acme_client.get(FETCH, {"pageSize": 1, "nextPageToken": token})
        assert_error(response, 400, "bad_page_token")
    assert_error(acme_client.get(FETCH, {"nextPageToken": "x" * 2001}), 400, "validation_error")
    assert fetched(acme.platform) == before


def test_removed_hash_is_served_as_withdrawn_or_deleted(acme, acme_client, case):
    first = acme_client.get(FETCH, {"startTimestamp": 10}).json()
    checkpoint = first["nextSetTimestamp"]
    rows = list(case.hashes.filter(algorithm="pdq").order_by("pk"))
    cases.item_withdraw(case=case, item_id=rows[0].item_id)
    cases.hashes_quarantine(hashes=[rows[1]])
    # Resume exactly from the last token: only the two removals.
    after = acme_client.get(FETCH, {"nextPageToken": first["nextPageToken"]}).json()
    assert [(r["hashValue"], r["hashStatus"]) for r in after["hashRecords"]] == [
        (rows[0].value, "Withdrawn"),
        (rows[1].value, "Deleted"),
    ]
    assert after["nextSetTimestamp"] >= checkpoint
    statuses = [list(r["caseNumbers"].values()) for r in after["hashRecords"]]
    assert statuses == [["Withdrawn"], ["Deleted"]]


def test_expired_case_hashes_are_deleted(acme, acme_client, case):
    first = acme_client.get(FETCH).json()
    Case.objects.filter(pk=case.pk).update(expires_at=case.created_at)
    assert cases.cases_expire() == 8  # 2 images x (PDQ, pHash, MD5, SHA-256)
    after = acme_client.get(FETCH, {"nextPageToken": first["nextPageToken"]}).json()
    assert {r["hashStatus"] for r in after["hashRecords"]} == {"Deleted"}
    assert after["count"] == 2


def test_fetch_records_how_far_the_platform_got(acme, acme_client, case):
    page = acme_client.get(FETCH, {"pageSize": 1}).json()
    assert page["hasMoreRecords"] is True
    (record,) = page["hashRecords"]
    served = SubmittedHash.objects.filter(value=record["hashValue"]).first() or Decoy.objects.get(
        value=record["hashValue"]
    )
    seq, at = fetched(acme.platform)
    assert seq == served.feed_seq and at is not None
    while page["hasMoreRecords"]:
        page = acme_client.get(
            FETCH, {"pageSize": 1, "nextPageToken": page["nextPageToken"]}
        ).json()
    # Caught up: every position up to the head, including rows this contract doesn't carry.
    assert fetched(acme.platform)[0] == feed_head()
    assert feed_head() == case.hashes.order_by("-feed_seq").first().feed_seq


def test_wrong_method_is_405_json(acme_client):
    assert_error(acme_client.post(FETCH, {}, format="json"), 405, "method_not_allowed")
    assert_error(acme_client.get(FEEDBACK), 405, "method_not_allowed")


# SubmitFeedback ----------------------------------------------------------------


def feedback_body(*pairs: tuple[str, str]) -> dict:
    return {
        "count": len(pairs),
        "hashFeedbacks": [{"hashValue": h, "feedbackValue": v, "tags": []} for h, v in pairs],
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_error"),
        ({"count": 0, "hashFeedbacks": []}, "validation_error"),
        (
            {"count": 2, "hashFeedbacks": [{"hashValue": "ab" * 32, "feedbackValue": "Blocked"}]},
            "validation_error",
        ),
        (feedback_body(("zz" * 32, "Blocked")), "validation_error"),
        (feedback_body(("ab" * 31, "Blocked")), "validation_error"),
        ({"hashFeedbacks": [{"feedbackValue": "Blocked"}]}, "validation_error"),
        ({"hashFeedbacks": "Blocked"}, "validation_error"),
    ],
)
def test_malformed_feedback_is_400(acme_client, case, body, code):
    assert_error(acme_client.post(FEEDBACK, body, format="json"), 400, code)
    assert not HashFeedback.objects.exists()


def test_feedback_batch_is_all_or_nothing(acme, acme_client, case):
    acme_client.get(FETCH)
    good = case.hashes.filter(algorithm="pdq").first().value
    unknown = random_pdq(random.Random(2))
    body = assert_error(
        acme_client.post(
            FEEDBACK, feedback_body((good, "Blocked"), (unknown, "Blocked")), format="json"
        ),
        400,
        "unknown_hash",
    )
    assert body["details"] == {"unknownHashes": [unknown]}
    assert_error(
        acme_client.post(
            FEEDBACK, feedback_body((good, "Blocked"), (good, "Withdrawn")), format="json"
        ),
        400,
        "bad_feedback_value",
    )
    assert not HashFeedback.objects.exists()


def test_oversize_feedback_batch_is_400(acme_client, case):
    value = case.hashes.filter(algorithm="pdq").first().value
    body = feedback_body(*[(value, "Blocked")] * 1001)
    assert_error(acme_client.post(FEEDBACK, body, format="json"), 400, "validation_error")
    assert not HashFeedback.objects.exists()


def test_feedback_values_map_to_outcomes_and_latest_wins(acme, acme_client, case):
    acme_client.get(FETCH)
    value = case.hashes.filter(algorithm="pdq").first().value
    for fb_value, outcome in [
        ("PendingReview", "matched_pending_review"),
        ("Blocked", "blocked"),
        ("NotBlocked", "not_violating"),
    ]:
        response = acme_client.post(FEEDBACK, feedback_body((value, fb_value)), format="json")
        assert response.status_code == 200
        assert response.json() == {"count": 1, "recorded": 1, "ignored": 0}
        assert HashFeedback.objects.get().outcome == outcome
    # "None" tags without a verdict: accepted, the verdict stays.
    response = acme_client.post(FEEDBACK, feedback_body((value.upper(), "None")), format="json")
    assert response.json() == {"count": 1, "recorded": 0, "ignored": 1}
    assert HashFeedback.objects.get().outcome == "not_violating"


def test_feedback_cannot_probe_for_hashes_never_sent(acme, acme_client, case):
    rows = list(case.hashes.filter(algorithm="pdq"))
    cases.hashes_quarantine(hashes=rows[:1])  # before Acme ever fetched
    assert_error(
        acme_client.post(FEEDBACK, feedback_body((rows[0].value, "Blocked")), format="json"),
        400,
        "unknown_hash",
    )
    ok = acme_client.post(FEEDBACK, feedback_body((rows[1].value, "Blocked")), format="json")
    assert ok.status_code == 200


# SubmitHashes -------------------------------------------------------------------


def submit_body(*records: tuple[str, str]) -> dict:
    return {
        "count": len(records),
        "hashRecords": [
            {
                "lastModtimestamp": 1,
                "signalType": s,
                "hashValue": h,
                "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": []}],
            }
            for s, h in records
        ],
    }


@pytest.fixture
def partner_client(acme) -> APIClient:
    fn = platforms.api_key_issue(
        platform=acme.platform, kind="stopncii_fn", scopes=[SCOPE_STOPNCII, SCOPE_STOPNCII_SUBMIT]
    ).raw
    return keyed(fn, acme.stopncii_subscription_key.raw)


def test_submit_hashes_is_closed_by_default(acme_client):
    response = acme_client.post(SUBMIT, submit_body(("ImagePDQ", "ab" * 32)), format="json")
    assert_error(response, 403, "insufficient_scope")
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        submit_body(("ImagePHash", "ab" * 32)),
        submit_body(("ImagePDQ", "ab" * 16)),
        submit_body(("VideoMD5", "ab" * 32)),
        submit_body(("ImagePDQ", "gg" * 32)),
        submit_body(*[("ImagePDQ", f"{i:064x}") for i in range(101)]),
        {"count": 1, "hashRecords": []},
        {
            "hashRecords": [
                {
                    "signalType": "ImagePDQ",
                    "hashValue": "ab" * 32,
                    "CSPFeedbacks": [{"feedbackValue": "Deleted"}],
                }
            ]
        },
    ],
)
def test_malformed_submissions_are_400_and_create_nothing(partner_client, body):
    assert_error(partner_client.post(SUBMIT, body, format="json"), 400, "validation_error")
    assert not Case.objects.exists()
    assert not SubmittedHash.objects.exists()


def test_submission_creates_an_active_case_with_the_partners_verdict(acme, partner_client):
    pdq = random_pdq(random.Random(3))
    response = partner_client.post(
        SUBMIT,
        submit_body(("StopNCIISignalType.ImagePDQ", pdq), ("VideoMD5", "cd" * 16)),
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    case = Case.objects.get()
    assert body == {
        "count": 2,
        "caseNumber": pseudonyms.pseudonymous_case_id(platform=acme.platform, case_id=case.pk),
    }
    assert case.number not in str(body)
    assert set(case.hashes.values_list("algorithm", "media_kind", "value")) == {
        ("pdq", "image", pdq),
        ("md5", "video", "cd" * 16),
    }
    assert HashFeedback.objects.filter(platform=acme.platform, outcome="blocked").count() == 2


def make_decoy(platform: Platform, value: str):
    from django.db import transaction

    from portal.cases.positions import feed_positions_allocate

    with transaction.atomic():
        (seq,) = feed_positions_allocate(count=1)
        return Decoy.objects.create(
            platform=platform, algorithm="pdq", value=value, quality=90, feed_seq=seq
        )


def test_decoys_are_served_only_to_their_platform_and_look_real(acme, acme_client, case):
    decoy = make_decoy(acme.platform, random_pdq(random.Random(4)))
    other = platforms.platform_create(name="Other")
    other_client = keyed(other.stopncii_function_key.raw, other.stopncii_subscription_key.raw)
    mine = acme_client.get(FETCH).json()["hashRecords"]
    theirs = other_client.get(FETCH).json()["hashRecords"]
    assert decoy.value in {r["hashValue"] for r in mine}
    assert decoy.value not in {r["hashValue"] for r in theirs}
    record = next(r for r in mine if r["hashValue"] == decoy.value)
    real = next(r for r in mine if r["hashValue"] != decoy.value)
    assert set(record) == set(real) and record["hashStatus"] == "Active"
    assert len(record["caseNumbers"]) == 1 and next(iter(record["caseNumbers"])).startswith("pc_")
    # Feedback on it is answered like any other and stored nowhere.
    response = acme_client.post(FEEDBACK, feedback_body((decoy.value, "Blocked")), format="json")
    assert response.json() == {"count": 1, "recorded": 1, "ignored": 0}
    assert not HashFeedback.objects.exists()


def test_first_fetch_hides_cases_that_let_go_before_it(acme, acme_client):
    rng = random.Random(5)
    shared = SubmittedItemFactory.build(rng=rng)
    gone = cases.case_create(items=[shared]).case
    cases.case_withdraw(case=gone)
    kept = cases.case_create(items=[shared]).case
    decoys = decoy_values(acme.platform)
    (record,) = [
        r for r in acme_client.get(FETCH).json()["hashRecords"] if r["hashValue"] not in decoys
    ]
    assert record["hashValue"] == shared.hashes["pdq"] and record["hashStatus"] == "Active"
    assert record["caseNumbers"] == {
        pseudonyms.pseudonymous_case_id(platform=acme.platform, case_id=kept.pk): "Active"
    }
    # A platform that has fetched before hears about every case.
    cases.case_withdraw(case=kept)
    page = acme_client.get(FETCH).json()
    (record,) = [r for r in page["hashRecords"] if r["hashValue"] not in decoys]
    assert record["hashStatus"] == "Withdrawn" and len(record["caseNumbers"]) == 2


def test_checkpoint_resume_sends_a_removal_whose_time_is_older_than_its_position(
    acme, acme_client, case
):
    # A withdrawal takes its time before it queues for the feed lock, so its
    # time can be a little older than the last record a fetch already served.
    # Resuming from that fetch's checkpoint must still send it.
    first = acme_client.get(FETCH, {"startTimestamp": 10}).json()
    checkpoint = first["nextSetTimestamp"]
    row = case.hashes.filter(algorithm="pdq").first()
    cases.item_withdraw(case=case, item_id=row.item_id)
    early = datetime.fromtimestamp(checkpoint - 5, tz=UTC)
    SubmittedHash.objects.filter(pk=row.pk).update(removed_at=early)
    resumed = acme_client.get(FETCH, {"startTimestamp": checkpoint}).json()
    statuses = {r["hashValue"]: r["hashStatus"] for r in resumed["hashRecords"]}
    assert statuses[row.value] == "Withdrawn"
    # What the checkpoint second re-sends is at most the records already served.
    served = {r["hashValue"] for r in first["hashRecords"]}
    assert set(statuses) <= served
