"""Sequence replay: fixed-length windows of consecutive steps, for recurrent agents (R2D2,
Kapturowski et al. 2019) and off-policy corrections over trajectories (V-trace, Espeholt et
al. 2018; Retrace, Munos et al. 2016).

Every env of a batched environment is one stream of steps, stored on its own circular time
axis. The time axes of all streams advance together, because a batched env steps all its envs
together.

What is sampled: a window is `sequence_length` consecutive stored steps of one stream, whose
first step was the k-th step ever added for k a multiple of `period` (so with `period ==
sequence_length`, the default, windows tile the stream without overlap; with a smaller
`period` they overlap by `sequence_length - period` steps, as R2D2's 80-step sequences that
overlap by 40). A window never reaches past the newest step, nor before the oldest one still
stored, so it never straddles the write head and holds no half-overwritten data. Windows may
cross episode boundaries, as in R2D2; the stored `last` flags tell the learner where. Each
batch element is an independent uniform draw over (stream, window start) pairs.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.replay import base
from jaxrl.types import Array, PRNGKey, PyTree


class SequenceState(NamedTuple):
    """State of a sequence buffer.

    Attributes:
      data: the item pytree with leading axes [capacity, num_envs] (time, stream).
      insert_position: int32, the time row the next step is written to.
      size: int32, the number of time rows holding steps; saturates at capacity.
      phase: int32, the number of steps added so far modulo `period`; windows start
        `phase + j * period` steps before the write head. Keeping only the remainder, not the
        step count, means no counter can overflow in a long run.
    """

    data: PyTree
    insert_position: Array
    size: Array
    phase: Array


def sequence(
    capacity: int, sequence_length: int, batch_size: int, period: int | None = None
) -> base.ReplayBuffer:
    """A buffer of env streams that samples [batch_size, sequence_length, ...] windows.

    `init(example_item, num_envs=1)`: `example_item` is one step of one env (no leading
    axes); `num_envs` fixes a shape, so it is static under `jit`. `add(state, steps)`: `steps`
    is time-major [T, num_envs, ...] with T <= capacity, e.g. one env step (T = 1) or a whole
    rollout. `sample(state, key)` returns the batch with leading axes [batch_size,
    sequence_length] and `SampleInfo` whose `indices` are `row * num_envs + env` of each
    window's first step (weights are ones).

    Args:
      capacity: the number of time steps kept per env stream (capacity * num_envs in all).
        Must be at least `sequence_length + period - 1`, so that once a window can be sampled,
        one always can.
      sequence_length: the number of steps per sampled window.
      batch_size: the number of windows per sample.
      period: the stride between window starts; defaults to `sequence_length`.

    Raises:
      ValueError: naming the argument, if an argument is out of range.
    """
    sequence_length = base.check_int("sequence_length", sequence_length, 1)
    batch_size = base.check_int("batch_size", batch_size, 1)
    period = sequence_length if period is None else base.check_int("period", period, 1)
    capacity = base.check_int("capacity", capacity, 1)
    if capacity < sequence_length + period - 1:
        raise ValueError(
            f"capacity ({capacity}) must be >= sequence_length + period - 1 "
            f"({sequence_length + period - 1}): a full buffer must always hold a window that "
            f"starts on the period"
        )

    def init(example_item: PyTree, num_envs: int = 1) -> SequenceState:
        num_envs = base.check_int("num_envs", num_envs, 1)
        zero = jnp.zeros((), jnp.int32)
        return SequenceState(base.storage_like(example_item, (capacity, num_envs)), zero, zero, zero)

    def add(state: SequenceState, steps: PyTree) -> SequenceState:
        steps, (num_steps,) = base.check_items(state.data, steps)
        base.check_batch_fits(num_steps, capacity)
        data, _ = base.write_circular(state.data, steps, state.insert_position)
        return SequenceState(
            data=data,
            insert_position=(state.insert_position + num_steps) % capacity,
            size=jnp.minimum(state.size + num_steps, capacity),
            phase=(state.phase + num_steps) % period,
        )

    def window_starts(state: SequenceState) -> tuple[Array, Array]:
        # A window starting j steps before the head (j in [sequence_length, size]) lies inside
        # the stored steps; it starts on the period iff j = phase (mod period).
        nearest = sequence_length + (state.phase - sequence_length) % period
        count = jnp.maximum((state.size - nearest) // period + 1, 0)
        return nearest, count

    def sample(state: SequenceState, key: PRNGKey) -> tuple[PyTree, base.SampleInfo]:
        num_envs = jax.tree.leaves(state.data)[0].shape[1]
        nearest, count = window_starts(state)
        start_key, env_key = jax.random.split(key)
        which = jax.random.randint(start_key, (batch_size,), 0, jnp.maximum(count, 1), jnp.int32)
        envs = jax.random.randint(env_key, (batch_size,), 0, num_envs, jnp.int32)
        starts = (state.insert_position - nearest - which * period) % capacity
        rows = (starts[:, None] + jnp.arange(sequence_length, dtype=jnp.int32)) % capacity
        batch = jax.tree.map(lambda x: x[rows, envs[:, None]], state.data)
        info = base.SampleInfo(starts * num_envs + envs, base.uniform_weights(batch_size))
        return batch, info

    def can_sample(state: SequenceState) -> Array:
        return window_starts(state)[1] >= 1

    return base.ReplayBuffer(init=init, add=add, sample=sample, can_sample=can_sample)
