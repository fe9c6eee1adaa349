"""What every agent's `Config` does alike: range checks whose errors name the field, and its
default `HParams` as arrays."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

import jax.numpy as jnp

H = TypeVar("H")


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


def default_hparams(config: Any, hparams_cls: type[H]) -> H:
    """`hparams_cls` with every field taken from the config's field of the same name, as a float32
    scalar array (so populations vmap over them and sweeps never recompile)."""
    return hparams_cls(**{f.name: jnp.asarray(getattr(config, f.name), jnp.float32)
                          for f in dataclasses.fields(hparams_cls)})
