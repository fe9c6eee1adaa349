"""Threefry keys whose hash XLA:CPU fuses: the same random bits as JAX's default keys, faster.

On CPU, JAX lowers its Threefry-2x32 hash (Salmon et al. 2011, "Parallel random numbers: as
easy as 1, 2, 3") as a `while` loop of five rounds, to keep compile times short. Inside a
rollout's `lax.scan`, every `split`, `categorical` or `uniform` then becomes a loop of dozens
of tiny kernels per environment step, and those dominate a small-network rollout on CPU.

`fast_key(key)` rewraps a default (threefry2x32) key as a key of an implementation that
computes the identical hash unrolled in plain `jnp` ops, which XLA fuses into one kernel. Every
`jax.random` function called with such a key, including the ones inside gymnax environments,
returns bit-for-bit what it returns for the original key (tests/test_prng.py checks this), so
switching it on moves no result; keys of other implementations (`rbg`, user-defined) pass
through unchanged.

The on-policy loop uses it for its rollout and update keys, and the offline loop for its updates'
keys, where it pays on CPU; the off-policy loop does not, because DQN ran slower with it
(experiments/benchmarks/README.md has the figures).

The rolled loop is XLA:CPU's lowering only (for GPU and TPU JAX already emits the hash
unrolled, or as a GPU kernel if asked to), so by default `fast_key` returns a key whose hash is
unrolled in programs compiled for CPU and is JAX's own on other platforms (`jaxrl.tricks`);
`jaxrl.cpu_tricks(True)` unrolls it everywhere and `cpu_tricks(False)` makes `fast_key` return
the key unchanged. The bits are the same on every path.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import random as jex_random

from jaxrl import tricks
from jaxrl.types import Array, PRNGKey

_DEFAULT = jex_random.threefry_prng_impl
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _rotate_left(x: Array, d: int) -> Array:
    return jax.lax.shift_left(x, np.uint32(d)) | jax.lax.shift_right_logical(x, np.uint32(32 - d))


def threefry2x32(k1: Array, k2: Array, x1: Array, x2: Array) -> tuple[Array, Array]:
    """The Threefry-2x32 hash with 20 rounds, unrolled (the block cipher of JAX's default key)."""
    ks = (k1, k2, k1 ^ k2 ^ np.uint32(0x1BD11BDA))
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for block in range(5):
        for rotation in _ROTATIONS[block % 2]:
            x1 = x1 + x2
            x2 = x1 ^ _rotate_left(x2, rotation)
        x1 = x1 + ks[(block + 1) % 3]
        x2 = x2 + ks[(block + 2) % 3] + np.uint32(block + 1)
    return x1, x2


def _counts(shape: tuple[int, ...]) -> tuple[Array, Array]:
    # The (high, low) words of each element's row-major index: JAX's partitionable counter.
    size = math.prod(shape)
    if size >= 2**32:
        raise NotImplementedError(f"fast keys draw at most 2**32 values at once, asked for {shape}")
    low = jnp.reshape(jax.lax.iota(np.uint32, size), shape)
    return jnp.zeros(shape, np.uint32), low


def _partitionable() -> bool:
    return bool(jax.config.jax_threefry_partitionable)


def _split(key: Array, shape: tuple[int, ...]) -> Array:
    if not _partitionable():
        return _DEFAULT.split(key, shape)
    bits1, bits2 = threefry2x32(key[0], key[1], *_counts(tuple(shape)))
    return jnp.stack([bits1, bits2], axis=bits1.ndim)


def _fold_in(key: Array, data: Array) -> Array:
    data = jnp.asarray(data, np.uint32)
    bits1, bits2 = threefry2x32(key[0], key[1], jnp.zeros((1,), np.uint32), jnp.reshape(data, (1,)))
    return jnp.concatenate([bits1, bits2])


def _random_bits(key: Array, bit_width: int, shape: tuple[int, ...]) -> Array:
    if not _partitionable() or bit_width not in (8, 16, 32, 64):
        return _DEFAULT.random_bits(key, bit_width, shape)
    bits1, bits2 = threefry2x32(key[0], key[1], *_counts(tuple(shape)))
    if bit_width == 64:
        return (bits1.astype(np.uint64) << np.uint64(32)) | bits2.astype(np.uint64)
    dtype = {8: np.uint8, 16: np.uint16, 32: np.uint32}[bit_width]
    return (bits1 ^ bits2).astype(dtype)


FAST_THREEFRY = jex_random.define_prng_impl(
    key_shape=(2,),
    seed=_DEFAULT.seed,
    split=_split,
    random_bits=_random_bits,
    fold_in=_fold_in,
    name="jaxrl_threefry2x32_unrolled",
    tag="jfry",
)


def _unrolled_on_cpu(unrolled, default):
    # The impl's functions run when the program is lowered, for a known platform: keep one branch.
    def impl(key: Array, *args: Any) -> Array:
        return jax.lax.platform_dependent(
            key, cpu=lambda k: unrolled(k, *args), default=lambda k: default(k, *args))

    return impl


FAST_THREEFRY_ON_CPU = jex_random.define_prng_impl(
    key_shape=(2,),
    seed=_DEFAULT.seed,
    split=_unrolled_on_cpu(_split, _DEFAULT.split),
    random_bits=_unrolled_on_cpu(_random_bits, _DEFAULT.random_bits),
    fold_in=_unrolled_on_cpu(_fold_in, _DEFAULT.fold_in),
    name="jaxrl_threefry2x32_unrolled_on_cpu",
    tag="jfryc",
)


def fast_key(key: PRNGKey) -> PRNGKey:
    """`key` as a fast-hash key with the same data (default threefry keys, typed or raw uint32
    [..., 2]); keys of any other implementation are returned unchanged, and so is every key
    while `jaxrl.cpu_tricks(False)` is set.

    The key's implementation is `FAST_THREEFRY_ON_CPU` by default and `FAST_THREEFRY` (unrolled
    on every platform) under `cpu_tricks(True)`.
    """
    setting = tricks.cpu_tricks_setting()
    if setting is False:
        return key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if str(jax.random.key_impl(key)) != "threefry2x32":
            return key
        data = jax.random.key_data(key)
    else:
        if key.dtype != jnp.uint32 or key.shape[-1:] != (2,):
            return key
        data = key
    return jax.random.wrap_key_data(data, impl=FAST_THREEFRY if setting else FAST_THREEFRY_ON_CPU)


def split(key: PRNGKey, num: int | tuple[int, ...] = 2) -> PRNGKey:
    """`jax.random.split(key, num)`, hashed the fast way, as keys of `key`'s own kind.

    For a loop's carried key, which must keep its type from one iteration to the next.
    """
    fast = fast_key(key)
    if fast is key:
        return jax.random.split(key, num)
    data = jax.random.key_data(jax.random.split(fast, num))
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(data, impl="threefry2x32")
    return data
