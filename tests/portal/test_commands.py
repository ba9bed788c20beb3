"""Management commands: seed_demo, create_platform, demo_setup."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from portal.cases.models import Case, SubmittedHash
from portal.platforms.models import ApiKey, Platform
from portal.platforms.services import api_key_authenticate

pytestmark = pytest.mark.django_db


def _run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_seed_demo_prints_counts_of_cases_and_active_hashes():
    result = json.loads(_run("seed_demo", "--cases", "4", "--hashes-per-case", "2", "--seed", "5"))
    assert result == {
        "cases_created": 4,
        "active_hashes": {"dhash": 8, "md5": 8, "pdq": 8, "phash": 8, "sha256": 8},
    }
    assert Case.objects.count() == 4
    for value in SubmittedHash.objects.filter(algorithm="pdq").values_list("value", flat=True):
        assert bin(int(value, 16)).count("1") == 128  # like real PDQ hashes


def test_seed_demo_is_reproducible_with_a_seed():
    first = _run("seed_demo", "--cases", "2", "--seed", "9")
    values = set(SubmittedHash.objects.values_list("value", flat=True))
    SubmittedHash.objects.all().delete()
    Case.objects.all().delete()
    assert _run("seed_demo", "--cases", "2", "--seed", "9") == first
    assert set(SubmittedHash.objects.values_list("value", flat=True)) == values


def test_create_platform_prints_working_credentials_once_as_json():
    credentials = json.loads(_run("create_platform", "Example Forum", "--json"))
    platform = Platform.objects.get(name="Example Forum")
    assert credentials["platform_id"] == platform.pk
    assert api_key_authenticate(raw=credentials["api_key"]).platform == platform
    assert (
        api_key_authenticate(
            raw=credentials["stopncii_function_key"], kind=ApiKey.Kind.STOPNCII_FUNCTION
        ).platform
        == platform
    )
    with pytest.raises(CommandError, match="already exists"):
        _run("create_platform", "Example Forum")


def test_demo_setup_seeds_once_and_keeps_printing_the_demo_keys(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = _run("demo_setup")
    cases = Case.objects.count()
    second = _run("demo_setup")
    assert cases == 25 and Case.objects.count() == cases
    key = json.loads((tmp_path / "demo-platform.json").read_text())["api_key"]
    assert key in first and key in second
    assert api_key_authenticate(raw=key) is not None
