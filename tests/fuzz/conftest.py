"""Fuzz suite fixtures: the summary file, and a resolver that never leaves the machine."""

from __future__ import annotations

import ipaddress

import pytest

from tests.fuzz.support import summary_json
from tests.support.services import ROOT


@pytest.fixture(scope="session", autouse=True)
def _fuzz_summary():
    # Compile the hashing kernels first: a first-call compile is not an input's cost.
    import hashing

    hashing.warm_up()
    yield
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "fuzz-summary.json").write_text(summary_json() + "\n")


@pytest.fixture
def offline_dns(monkeypatch):
    """Webhook names resolve without DNS: every name to one public address (literals as is)."""
    from portal.platforms import webhooks

    def resolve(host: str, port: int) -> list:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            return [ipaddress.ip_address("93.184.215.14")]

    monkeypatch.setattr(webhooks, "_resolve", resolve)
