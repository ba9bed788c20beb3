"""Fixtures for the platform API tests (helpers live in tests/support/platforms.py)."""

import pytest

from tests.support.platforms import PlatformClient, platform_client


@pytest.fixture
def acme(db) -> PlatformClient:
    return platform_client("Acme")


@pytest.fixture
def other(db) -> PlatformClient:
    return platform_client("Other")


@pytest.fixture(autouse=True)
def _example_org_resolves(example_org_dns) -> None:
    """Webhook URLs under example.org resolve to a public address (tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters are keyed by key id, and rolled-back ids are reused by the next test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_match_indexes(fresh_match_indexes) -> None:
    """Every API test starts with empty match indexes (tests/conftest.py)."""
