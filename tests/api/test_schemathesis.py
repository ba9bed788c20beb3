"""Property-based run of schemathesis against the live OpenAPI schema: no 5xx anywhere.

schemathesis reads /api/schema/ from a live server, generates valid and invalid
requests for every operation and sends them over HTTP with a real platform key
(and, for the StopNCII-compatible exchange, its key pair).

(schemathesis' own pytest plugin does not run under pytest 9 yet, so the
operations are driven here through hypothesis directly.)
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from portal.platforms import services
from tests.support.factories import case_with_items

EXAMPLES = 25


@pytest.fixture
def platform_keys(transactional_db) -> dict[str, str]:
    created = services.platform_create(name="Fuzzer")
    case_with_items(2)
    return {
        "Authorization": f"Bearer {created.api_key.raw}",
        "Ocp-Apim-Subscription-Key": created.stopncii_subscription_key.raw,
        "x-functions-key": created.stopncii_function_key.raw,
    }


@pytest.fixture
def api_schema(live_server, platform_keys):
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_with_a_server_error(api_schema, platform_keys, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert "GET /api/v1/hashes/feed" in labels and "POST /api/v1/match" in labels
    answered: dict[str, set[int]] = {}

    def run(operation) -> None:
        codes = answered.setdefault(operation.label, set())

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            response = case.call(headers=platform_keys, timeout=30)
            case.validate_response(response, checks=[not_a_server_error])
            codes.add(response.status_code)

        check()

    for operation in operations:
        run(operation)
    assert all(code < 500 for codes in answered.values() for code in codes), answered
    if mode == GenerationMode.POSITIVE:
        # Not only refusals: the fuzzer got real answers. (Valid match bodies are
        # rare: the schema can't tie a value's length to its algorithm.)
        assert 200 in answered["GET /api/v1/hashes/feed"]
        assert 200 in answered["GET /api/v1/hashes/snapshot"]
