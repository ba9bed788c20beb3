"""Fuzz the StopNCII-compatible exchange's parsers: page tokens, signal types, FetchHashes.

`page_token_decode` takes any text a partner sends back as nextPageToken (and
tokens signed for another platform, or tampered ones): it must answer a
FeedPosition or BadPageToken, nothing else. `signal_type_parse` must accept a
known name or raise the domain error. FetchHashes gets arbitrary query strings
through the real view: no 5xx, no hang, errors in the API's JSON shape.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from api.stopncii import tokens
from portal.exceptions import ApplicationError
from portal.platforms import services as platforms
from portal.platforms import stopncii
from portal.platforms.services import SCOPE_STOPNCII
from tests.fuzz.support import record_status, time_limit

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


@pytest.fixture
def partner(db):
    created = platforms.platform_create(name="FuzzPartner")
    fn = platforms.api_key_issue(
        platform=created.platform, kind="stopncii_fn", scopes=[SCOPE_STOPNCII]
    ).raw
    client = APIClient()
    client.credentials(
        HTTP_X_FUNCTIONS_KEY=fn,
        HTTP_OCP_APIM_SUBSCRIPTION_KEY=created.stopncii_subscription_key.raw,
    )
    return created.platform, client


@FUZZ
@given(
    token=st.text(max_size=300)
    | st.binary(max_size=200).map(lambda b: b.hex())
    | st.sampled_from(["", ":", "a:b:c", "eJz:abc:def", "." * 100])
)
def test_page_tokens_decode_or_are_refused(partner, token):
    platform, _ = partner
    with time_limit("stopncii: page tokens"):
        try:
            position = tokens.page_token_decode(platform=platform, token=token)
        except tokens.BadPageToken:
            return
    assert position is not None


@FUZZ
@given(cut=st.integers(1, 200), flip=st.integers(0, 200), other=st.booleans())
def test_tampered_or_foreign_tokens_are_refused(partner, cut, flip, other):
    platform, _ = partner
    position = stopncii.feed_position_start(platform=platform, start_timestamp=0)
    token = tokens.page_token_encode(platform=platform, position=position)
    if other:
        stranger = platforms.platform_create(name=f"Other {cut}-{flip}").platform
        token = tokens.page_token_encode(platform=stranger, position=position)
    elif flip < len(token):
        token = token[:flip] + ("A" if token[flip] != "A" else "B") + token[flip + 1 :]
    else:
        token = token[: max(1, len(token) - cut)]
    with time_limit("stopncii: tampered tokens"), pytest.raises(tokens.BadPageToken):
        tokens.page_token_decode(platform=platform, token=token)


@FUZZ
@given(value=st.text(max_size=60) | st.sampled_from(["ImagePDQ", "StopNCIISignalType.ImagePDQ"]))
def test_signal_types_parse_or_are_refused(value):
    with time_limit("stopncii: signal types"):
        try:
            assert stopncii.signal_type_parse(value)
        except ApplicationError as error:
            assert error.code == "bad_signal_type"


_PARAM = st.sampled_from(["startTimestamp", "pageSize", "nextPageToken", "x"])
_VALUE = st.text(max_size=40) | st.integers(-(2**80), 2**80).map(str)


@FUZZ
@given(params=st.dictionaries(_PARAM, _VALUE, max_size=4))
def test_fetch_hashes_query_strings(partner, params):
    _, client = partner
    with time_limit("stopncii: FetchHashes query"):
        response = client.get("/api/stopncii/v1/FetchHashes", params)
    record_status("stopncii: FetchHashes query", response.status_code)
    assert response.status_code < 500, (params, response.content[:300])
    if response.status_code >= 400:
        assert isinstance(response.json().get("code"), str)
