"""Services on platforms: credentials and pseudonymous case ids."""

import pytest

from portal.exceptions import ApplicationError
from portal.platforms import pseudonyms, services
from portal.platforms.models import ApiKey

pytestmark = pytest.mark.django_db


def test_platform_gets_three_keys_stored_only_as_hashes():
    created = services.platform_create(name="Example Social")
    raws = [
        created.api_key.raw,
        created.stopncii_subscription_key.raw,
        created.stopncii_function_key.raw,
    ]
    assert len(set(raws)) == 3
    for row in ApiKey.objects.filter(platform=created.platform):
        for raw in raws:
            assert raw not in row.key_hash and raw not in row.prefix
    assert services.api_key_authenticate(raw=created.api_key.raw).platform == created.platform


def test_wrong_revoked_or_wrong_kind_keys_do_not_authenticate():
    created = services.platform_create(name="Example Video")
    raw = created.api_key.raw
    assert services.api_key_authenticate(raw=raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert services.api_key_authenticate(raw="") is None
    assert services.api_key_authenticate(raw="not-a-key") is None
    assert services.api_key_authenticate(raw=raw, kind=ApiKey.Kind.STOPNCII_FUNCTION) is None
    services.api_key_revoke(api_key=created.api_key.api_key)
    assert services.api_key_authenticate(raw=raw) is None


def test_authentication_records_last_use():
    created = services.platform_create(name="Example Chat")
    services.api_key_authenticate(raw=created.api_key.raw)
    created.api_key.api_key.refresh_from_db()
    assert created.api_key.api_key.last_used_at is not None


def test_duplicate_platform_names_are_refused():
    services.platform_create(name="Dupe")
    with pytest.raises(ApplicationError):
        services.platform_create(name="dupe")


def test_pseudonymous_case_ids_differ_between_platforms_and_are_stable():
    a = services.platform_create(name="A").platform
    b = services.platform_create(name="B").platform
    pseudonym = pseudonyms.pseudonymous_case_id
    assert pseudonym(platform=a, case_id=7) == pseudonym(platform=a, case_id=7)
    assert pseudonym(platform=a, case_id=7) != pseudonym(platform=b, case_id=7)
    assert pseudonym(platform=a, case_id=7) != pseudonym(platform=a, case_id=8)
