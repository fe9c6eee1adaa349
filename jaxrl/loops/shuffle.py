"""Minibatch shuffles for learners that take several passes over one batch (PPO's epochs).

`shuffled_minibatches` gathers every epoch's minibatches at once, so a learner scans over them
with no per-epoch work inside its loop; `random_permutations` draws the epochs' orders.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.types import Array, PRNGKey, PyTree


def shuffled_minibatches(key: PRNGKey, batch: PyTree, num_epochs: int, num_minibatches: int) -> PyTree:
    """`num_epochs` passes over `batch` in minibatches, each pass in a fresh random order.

    Every leaf [N, ...] becomes [num_epochs * num_minibatches, N // num_minibatches, ...]:
    epoch e's minibatches are rows e * num_minibatches ... (e + 1) * num_minibatches - 1 and
    together hold each sample exactly once. All permutations come from one `random_permutations`
    call and the data from one gather, so a learner scans over minibatches with no per-epoch
    work inside its loop.
    """
    leaves = jax.tree.leaves(batch)
    batch_size = leaves[0].shape[0]
    if any(leaf.shape[0] != batch_size for leaf in leaves):
        raise ValueError(f"batch leaves disagree on the batch size: {[leaf.shape for leaf in leaves]}")
    if batch_size % num_minibatches:
        raise ValueError(f"num_minibatches={num_minibatches} does not divide the batch size {batch_size}")
    permutations = random_permutations(key, num_epochs, batch_size)
    minibatch_size = batch_size // num_minibatches
    indices = jnp.reshape(permutations, (num_epochs * num_minibatches, minibatch_size))
    return jax.tree.map(lambda x: x[indices], batch)


# Permutations of at least this many elements are Feistel networks of this many rounds.
_FEISTEL_MIN_SIZE = 64
_FEISTEL_ROUNDS = 8


def random_permutations(key: PRNGKey, num: int, size: int) -> Array:
    """`num` independent random permutations of range(size), as int32 [num, size].

    Below 64 elements they are uniformly random, from one sort of random keys with the index
    packed into their low bits (ties, which need two of the high parts to be equal, fall back to
    index order).

    From 64 elements on, each is a keyed pseudo-random permutation: an 8-round Feistel network
    (Luby & Rackoff 1988) on the smallest power-of-two domain that holds `size`, with a
    bijective integer hash as round function and fresh random round keys per permutation,
    walked back into range(size) by cycle walking (Black & Rogaway 2002) when `size` is not a
    power of two. It is a few fused integer kernels instead of a sort, which XLA:CPU runs on one
    thread (experiments/benchmarks/README.md has the measurements). A Feistel network reaches only
    even permutations, which changes nothing for minibatch SGD (any split into minibatches is
    reachable); the statistics that matter, how often two samples share a minibatch and where
    each one lands, match a uniform shuffle's in tests/test_loops.py. Below 64 elements its
    restriction is measurable, and a sort is cheap.
    """
    if size < _FEISTEL_MIN_SIZE:
        return _sorted_permutations(key, num, size)
    return _feistel_permutations(key, num, size)


def _sorted_permutations(key: PRNGKey, num: int, size: int) -> Array:
    index_bits = max(int(size - 1).bit_length(), 1)
    # One small draw per permutation: XLA:CPU runs threefry as a 5-round loop that it unrolls
    # only for small arrays, so one [num, size] draw is ~5x slower than num draws of [size].
    keys = jax.random.split(key, num)
    if num <= 16:
        random_bits = jnp.stack([jax.random.bits(k, (size,), jnp.uint32) for k in keys])
    else:  # keep the program small when many permutations are asked for
        random_bits = jax.vmap(lambda k: jax.random.bits(k, (size,), jnp.uint32))(keys)
    high_mask = jnp.uint32((0xFFFFFFFF << index_bits) & 0xFFFFFFFF)
    packed = (random_bits & high_mask) | jnp.arange(size, dtype=jnp.uint32)
    return (jax.lax.sort(packed, dimension=1) & jnp.uint32((1 << index_bits) - 1)).astype(jnp.int32)


def _mix32(x: Array) -> Array:
    # "lowbias32" (C. Wellons, hash-prospector): a bijective uint32 hash with low avalanche bias.
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _feistel_permutations(key: PRNGKey, num: int, size: int) -> Array:
    if size > 2**31:
        raise ValueError(f"random_permutations returns int32 indices; size {size} is too large")
    bits = int(size - 1).bit_length()
    round_keys = jax.random.bits(key, (_FEISTEL_ROUNDS, num, 1), jnp.uint32)

    def permute(x):
        # x = (high, low) with high_bits + low_bits = bits. A round maps it to
        # (low, high ^ F(low)): invertible whatever F is, and the halves trade widths.
        high_bits, low_bits = bits // 2, bits - bits // 2
        for round_key in round_keys:
            high, low = x >> low_bits, x & jnp.uint32((1 << low_bits) - 1)
            f = _mix32(low ^ round_key) & jnp.uint32((1 << high_bits) - 1)
            x = (low << high_bits) | (high ^ f)
            high_bits, low_bits = low_bits, high_bits
        return x

    x = permute(jnp.broadcast_to(jnp.arange(size, dtype=jnp.uint32), (num, size)))
    if size < 1 << bits:
        # Cycle walking: re-encipher what fell outside range(size) until it lands inside, which
        # restricts the bijection on [0, 2^bits) to one on range(size). The domain is under
        # twice `size`, so each index needs fewer than 2 extra rounds on average.
        x = jax.lax.while_loop(lambda x: jnp.any(x >= size), lambda x: jnp.where(x >= size, permute(x), x), x)
    return x.astype(jnp.int32)


__all__ = ["random_permutations", "shuffled_minibatches"]
