"""The replay-buffer bundle and the helpers every buffer shares.

A buffer is a NamedTuple of pure functions over a pytree state, in the spirit of optax's
`GradientTransformation`: nothing is stored in the buffer object itself, so the state can be
carried through `lax.scan`, stacked along a population axis with `jax.vmap`, sharded, and
checkpointed like any other pytree.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.types import Array, PyTree

BufferState = Any


class SampleInfo(NamedTuple):
    """What a buffer says about the batch it sampled.

    Attributes:
      indices: int32 [B], where each sampled item is stored; pass them back to
        `update_priorities` (prioritized buffers).
      weights: float32 [B], importance-sampling weights that correct for non-uniform sampling
        (all ones for uniform buffers), to multiply into the per-item loss.
    """

    indices: Array
    weights: Array


class ReplayBuffer(NamedTuple):
    """A replay buffer as a bundle of pure functions (cf. optax's `GradientTransformation`).

    init:   (example_item) -> state; `example_item` is one item (any pytree, no batch axis).
            (`sequence` buffers also take `num_envs`, the number of streams.)
    add:    (state, items) -> state; `items` is the example's pytree with a leading batch axis.
    sample: (state, key) -> (batch, SampleInfo); prioritized buffers also take `beta`.
    can_sample: (state) -> bool scalar; whether the buffer holds enough to sample from.
    update_priorities: (state, indices, priorities) -> state; None for buffers without
      priorities.

    Every function is jittable and vmappable (a population of buffers is one state with a
    leading population axis). Sampling from a buffer for which `can_sample` is False returns
    a batch of whatever is stored (zeros at first, with weights of one), never an error:
    compiled code cannot raise.
    """

    init: Callable[..., BufferState]
    add: Callable[[BufferState, PyTree], BufferState]
    sample: Callable[..., tuple[PyTree, SampleInfo]]
    can_sample: Callable[[BufferState], Array]
    update_priorities: Callable[[BufferState, Array, Array], BufferState] | None = None


def check_int(name: str, value: Any, minimum: int) -> int:
    """`value` as an int >= `minimum`, or a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_float(name: str, value: Any, low: float, high: float = math.inf) -> float:
    """`value` as a float in [low, high], or a ValueError naming the argument."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}") from None
    if not low <= value <= high:  # also rejects NaN
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    return value


def check_min_size(min_size: int | None, batch_size: int, capacity: int) -> int:
    """The effective minimum size: `batch_size` by default, at least 1, at most `capacity`."""
    if min_size is None:
        if batch_size > capacity:
            raise ValueError(
                f"batch_size ({batch_size}) is larger than capacity ({capacity}), and min_size "
                f"defaults to batch_size, so the buffer could never be sampled; pass min_size <= "
                f"capacity to sample with replacement from a smaller buffer"
            )
        return batch_size
    min_size = check_int("min_size", min_size, 0)
    if min_size > capacity:
        raise ValueError(f"min_size ({min_size}) must be <= capacity ({capacity})")
    # Sampling from an empty buffer would return zeros, not items.
    return max(min_size, 1)


def storage_like(example: PyTree, leading_shape: tuple[int, ...]) -> PyTree:
    """Zeros shaped `leading_shape + example.shape` for every leaf of `example`."""
    leaves = jax.tree.leaves(example)
    if not leaves:
        raise ValueError("the example item has no arrays to store")

    def zeros(x):
        x = jnp.asarray(x)
        return jnp.zeros(leading_shape + x.shape, x.dtype)

    return jax.tree.map(zeros, example)


def check_items(storage: PyTree, items: PyTree, num_leading: int = 1) -> tuple[PyTree, tuple[int, ...]]:
    """Checks `items` against the buffer's `storage` at trace time; returns them as arrays.

    Each leaf of `items` must have `num_leading` leading (batch) axes, the same sizes across
    leaves, followed by the axes of the matching storage leaf after its own `num_leading`
    leading axes, and the storage leaf's dtype. Mismatches raise a ValueError that names the
    leaf, so a wrong item fails where it is added, not as a shape error deep inside a scatter.

    Returns:
      the items with every leaf converted by `jnp.asarray`, and their leading shape.
    """
    storage_paths, storage_def = jax.tree_util.tree_flatten_with_path(storage)
    items_def = jax.tree.structure(items)
    if items_def != storage_def:
        raise ValueError(
            f"items have pytree structure {items_def}, but the buffer was initialised with "
            f"{storage_def}"
        )
    items = jax.tree.map(jnp.asarray, items)
    leading = None
    for (path, stored), item in zip(storage_paths, jax.tree.leaves(items)):
        name = "items" + jax.tree_util.keystr(path)
        expected = stored.shape[num_leading:]
        if item.ndim != num_leading + len(expected) or item.shape[num_leading:] != expected:
            raise ValueError(
                f"{name} has shape {item.shape}; expected {num_leading} leading axes followed "
                f"by the example's shape {expected}"
            )
        if item.dtype != stored.dtype:
            raise ValueError(f"{name} has dtype {item.dtype}; the buffer stores {stored.dtype}")
        if leading is None:
            leading = item.shape[:num_leading]
        elif item.shape[:num_leading] != leading:
            raise ValueError(
                f"{name} has leading shape {item.shape[:num_leading]}, but other leaves have "
                f"{leading}: every leaf of a batch must have the same leading axes"
            )
    return items, leading


def write_circular(storage: PyTree, items: PyTree, position: Array) -> tuple[PyTree, Array]:
    """Writes `items` [B, ...] into `storage` [capacity, ...] at rows position, position+1, ...

    Rows wrap around modulo capacity. A scatter with modular indices, not
    `lax.dynamic_update_slice`, which would clamp the start and overwrite the wrong rows
    whenever the batch straddles the end of the storage. Requires B <= capacity (callers
    check), so the rows are distinct and the scatter is well-defined.

    Returns:
      the new storage and the rows written, int32 [B].
    """
    capacity = jax.tree.leaves(storage)[0].shape[0]
    batch_size = jax.tree.leaves(items)[0].shape[0]
    rows = (position + jnp.arange(batch_size, dtype=jnp.int32)) % capacity
    storage = jax.tree.map(lambda s, x: s.at[rows].set(x, unique_indices=True), storage, items)
    return storage, rows


def gather(storage: PyTree, rows: Array) -> PyTree:
    """Rows `rows` of every leaf of `storage`."""
    return jax.tree.map(lambda s: s[rows], storage)


def check_batch_fits(batch_size: int, capacity: int, what: str = "add") -> None:
    """ValueError if a batch of `batch_size` cannot be written without overwriting itself."""
    if batch_size > capacity:
        raise ValueError(
            f"{what}() got a batch of {batch_size} items, more than the buffer's capacity "
            f"{capacity}: the batch would overwrite itself; add it in smaller pieces or raise "
            f"capacity"
        )


def uniform_weights(batch_size: int) -> Array:
    """Importance weights of a uniformly sampled batch: all ones."""
    return jnp.ones((batch_size,), jnp.float32)

