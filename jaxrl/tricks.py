"""Speed tricks that only pay on XLA:CPU, chosen by the platform a program is compiled for.

Six pieces of jaxrl work around XLA:CPU's weak spots: `networks.dense.Dense` (row-major
weight-gradient matmuls behind an optimization barrier), `networks.conv.Conv` (a convolution as
one matmul over image patches), `networks.flat_network` (a flat parameter vector's gradient
written leaf by leaf in place, not as one fused concatenation), `prng.fast_key` (JAX's threefry
hash unrolled so XLA fuses it), `population_chunks` (a vmapped population's update run a
cache-sized chunk of members at a time, and a population of one without its batch axis) and
`loops.common.Train.run` (many iterations as a loop of loops, see `inner_iterations` there). On
GPU and TPU those weak spots are not known to exist, so there the plain forms run (flax's
`nn.Dense` and `nn.Conv` arithmetic, the concatenation, JAX's own threefry lowering, the whole
population's `vmap`, one loop over the iterations) until a device measurement says otherwise.
Both paths compute the same values from the same parameters and keys, up to float summation order
where a sum is regrouped (`networks.dense`, `networks.conv`).

The choice is made by `lax.platform_dependent` (except for `Train.run`'s loops, see
`on_at_trace_time`): both paths are traced and the lowering for a
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
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

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


def on_at_trace_time() -> bool:
    """Whether the CPU tricks are on for a trick that changes a program's structure rather than
    its values, which `lax.platform_dependent` cannot choose without tracing the program twice:
    the override if one is set, else whether JAX's default backend is the CPU (`Train.run`'s
    nested iteration loops; both forms compute the same bits, only their speed differs)."""
    if _setting is not None:
        return _setting
    return jax.default_backend() == "cpu"


def broadcast_unbatched(axis_size: int, in_batched: Any, args: Any) -> tuple[Any, ...]:
    """A `custom_vmap` rule's `args` with every unbatched leaf (per `in_batched`, the rule's flags)
    given the batch axis of `axis_size`, so that all of them are sliced or written alike."""
    return tuple(jax.tree.map(lambda batched, x: x if batched else jnp.broadcast_to(x, (axis_size,) + x.shape),
                              list(in_batched), list(args)))


def _one_member(fn: Callable[..., _T]) -> Callable[..., _T]:
    """`vmap(fn)` over a population of one, computed as `fn` on the member's own arrays: XLA:CPU
    compiles some ops with a leading batch axis of size 1 much slower than without it (LayerNorm's
    backward pass: ~6x, experiments/benchmarks/README.md)."""

    def one(*args):
        out = fn(*jax.tree.map(lambda x: x[0], args))
        return jax.tree.map(lambda x: x[None], out)

    return one


def population_chunks(fn: Callable[..., _T], chunk_size: int) -> Callable[..., _T]:
    """`fn`, whose `jax.vmap` runs `chunk_size` members at a time where the CPU tricks are on.

    Under `vmap` over more than `chunk_size` members, the CPU path is
    `lax.map(fn, args, batch_size=chunk_size)`: a loop over chunks, each a vmapped `fn`, so every
    op's working set is one chunk's. A whole population's (PPO's parameters, Adam moments and
    minibatch activations at 128 seeds: tens of MB) outgrows the L2/L3 caches and the per-member
    cost rises; chunked it stays at the chunk's (experiments/benchmarks/README.md). A population
    of one (`jax.jit(jax.vmap(train))` over a single key, the CLI's default) runs, on the CPU
    path, `fn` on the member's own arrays, without the batch axis of size 1 that makes XLA:CPU's
    LayerNorm backward pass ~6x slower (PQN's update 2x). On GPU the wide batch is what fills the
    device, so there, by default, it is not chunked. Elsewhere, and for populations of 2 to
    `chunk_size`, it is plain `vmap(fn)`. Every member computes
    the same function either way; the last bits may differ between the two paths, as they do
    between population sizes, but one program always takes the same path, so a chunked-in-time
    run still equals one call bit for bit. Outside `vmap` it is `fn`. Not differentiable
    (`custom_vmap`): for learner updates and iterations, not for losses.
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"population_chunks: chunk_size must be an int >= 1, got {chunk_size!r}")

    @custom_vmap
    def chunked(*args):
        return fn(*args)

    @chunked.def_vmap
    def rule(axis_size, in_batched, *args):
        # Members share the unbatched arguments; give every member its own copy so one
        # `lax.map` slices them all alike.
        args = broadcast_unbatched(axis_size, in_batched, args)
        whole = lambda *args: jax.vmap(fn)(*args)  # noqa: E731
        if axis_size == 1:
            # A population of one: `fn` on the member itself, with no batch axis of size 1.
            out = by_platform(*args, cpu=_one_member(fn), default=whole)
        elif axis_size <= chunk_size:
            out = whole(*args)
        else:
            by_chunk = lambda *args: jax.lax.map(lambda a: fn(*a), args, batch_size=chunk_size)  # noqa: E731
            out = by_platform(*args, cpu=by_chunk, default=whole)
        return out, jax.tree.map(lambda _: True, out)

    return chunked
