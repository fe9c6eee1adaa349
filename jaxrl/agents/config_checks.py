"""Range checks every agent's `Config` makes at construction, with errors that name the field."""

from __future__ import annotations

import math
from typing import Any


def finite_in(x: Any, low: float, high: float, low_open: bool = False) -> bool:
    """Whether `x` is a finite real number in [low, high] (or (low, high] with `low_open`)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return False
    return (x > low if low_open else x >= low) and x <= high


def requirer(config: Any, agent: str):
    """`require(ok, field, what)`: raises ValueError "<agent>.Config.<field> <what>, got <value>"."""

    def require(ok: bool, field: str, what: str) -> None:
        if not ok:
            raise ValueError(f"{agent}.Config.{field} {what}, got {getattr(config, field)!r}")

    return require
