"""Speed tricks that only pay on XLA:CPU, chosen by the platform a program is compiled for.

Two pieces of jaxrl work around XLA:CPU's weak spots: `networks.dense.Dense` (row-major
weight-gradient matmuls behind an optimization barrier) and `prng.fast_key` (JAX's threefry hash
unrolled so XLA fuses it). On GPU and TPU those weak spots are not known to exist, so there the
plain forms run (flax's `nn.Dense` arithmetic, JAX's own threefry lowering) until a device
measurement says otherwise. Both paths compute the same values from the same parameters and keys.

The choice is made by `lax.platform_dependent`: both paths are traced and the lowering for a
platform keeps only that platform's branch, so the compiler never sees a conditional and the
choice follows the devices the program is compiled for (a jit with CPU devices on a GPU host gets
the CPU path), not `jax.default_backend()` when it was traced. `cpu_tricks(True)` or
`cpu_tricks(False)` overrides it everywhere, for tests and for users who measured otherwise.

The setting is read when a function is traced: a jitted function keeps the path of its first
trace, so set it before the first call (or `.lower`) of anything that should follow it.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, TypeVar

import jax

_T = TypeVar("_T")

# None: by platform (tricks on CPU only); True / False: forced on / off everywhere.
_setting: bool | None = None


def _checked(enabled: bool | None) -> bool | None:
    if enabled is not None and not isinstance(enabled, bool):
        raise ValueError(f"cpu_tricks takes True, False or None (by platform), got {enabled!r}")
    return enabled


def set_cpu_tricks(enabled: bool | None) -> None:
    """Forces jaxrl's CPU speed tricks on (True) or off (False) for programs traced from now on;
    None restores the default, on for CPU and off for other platforms."""
    global _setting
    _setting = _checked(enabled)


def cpu_tricks_setting() -> bool | None:
    """The current override: True, False, or None (chosen by the platform compiled for)."""
    return _setting


@contextlib.contextmanager
def cpu_tricks(enabled: bool | None) -> Iterator[None]:
    """`set_cpu_tricks(enabled)` for the programs traced inside the `with` block only."""
    global _setting
    previous, _setting = _setting, _checked(enabled)
    try:
        yield
    finally:
        _setting = previous


def by_platform(*args: Any, cpu: Callable[..., _T], default: Callable[..., _T]) -> _T:
    """`cpu(*args)` where the tricks are on, `default(*args)` where they are off.

    Both callables must return the same shapes and dtypes: under the default setting both are
    traced, and the lowering for each platform keeps one.
    """
    if _setting is None:
        return jax.lax.platform_dependent(*args, cpu=cpu, default=default)
    return cpu(*args) if _setting else default(*args)
