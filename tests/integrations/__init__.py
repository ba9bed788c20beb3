"""Tests of integrations/: the python-threatexchange extension with the real CLI."""

import importlib.util
import os

import pytest

PYTX_MISSING = (
    "takeback_pytx and threatexchange: make install-dev (pip install -e integrations/pytx)"
)


def pytx_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("takeback_pytx", "threatexchange"))


def require_pytx_module() -> None:
    """At module level: skip without the extension installed; under CI=true, fail."""
    if pytx_installed():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{PYTX_MISSING} is required under CI=true", pytrace=False)
    pytest.skip(PYTX_MISSING, allow_module_level=True)
