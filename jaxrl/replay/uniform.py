"""Uniform replay: a circular buffer of any pytree item, sampled uniformly with replacement.

The experience replay of DQN (Mnih et al. 2015, "Human-level control through deep
reinforcement learning"; Lin 1992 for the idea).
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxrl.replay import base
from jaxrl.types import Array, PRNGKey, PyTree


class UniformState(NamedTuple):
    """State of a uniform buffer.

    Attributes:
      data: the item pytree with a leading capacity axis.
      insert_position: int32, the row the next item is written to.
      size: int32, the number of rows holding items; saturates at capacity.
    """

    data: PyTree
    insert_position: Array
    size: Array


def uniform(capacity: int, batch_size: int, min_size: int | None = None) -> base.ReplayBuffer:
    """A circular buffer of `capacity` items, sampled uniformly with replacement.

    Once full, each added item overwrites the oldest one.

    Args:
      capacity: the number of items kept.
      batch_size: the number of items `sample` returns.
      min_size: `can_sample` is true once the buffer holds at least this many items
        (default: `batch_size`; never less than 1).

    Raises:
      ValueError: naming the argument, if an argument is out of range.
    """
    capacity = base.check_int("capacity", capacity, 1)
    batch_size = base.check_int("batch_size", batch_size, 1)
    min_size = base.check_min_size(min_size, batch_size, capacity)

    def init(example_item: PyTree) -> UniformState:
        return UniformState(
            data=base.storage_like(example_item, (capacity,)),
            insert_position=jnp.zeros((), jnp.int32),
            size=jnp.zeros((), jnp.int32),
        )

    def add(state: UniformState, items: PyTree) -> UniformState:
        items, (num_items,) = base.check_items(state.data, items)
        base.check_batch_fits(num_items, capacity)
        data, _ = base.write_circular(state.data, items, state.insert_position)
        return UniformState(
            data=data,
            insert_position=(state.insert_position + num_items) % capacity,
            size=jnp.minimum(state.size + num_items, capacity),
        )

    def sample(state: UniformState, key: PRNGKey) -> tuple[PyTree, base.SampleInfo]:
        chex.assert_rank(state.size, 0)
        indices = jax.random.randint(key, (batch_size,), 0, state.size, jnp.int32)
        return base.gather(state.data, indices), base.SampleInfo(indices, base.uniform_weights(batch_size))

    def can_sample(state: UniformState) -> Array:
        return state.size >= min_size

    return base.ReplayBuffer(init=init, add=add, sample=sample, can_sample=can_sample)

