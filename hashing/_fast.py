"""Placeholder: the fast exact PDQ path lands in a later commit."""

from __future__ import annotations

from typing import Any

AVAILABLE = False


def pdq_hash(pixels: Any) -> Any:  # pragma: no cover - replaced by the real implementation
    raise NotImplementedError
