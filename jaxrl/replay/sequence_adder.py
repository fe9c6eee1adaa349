"""Sequence items for replay: overlapping fixed-length windows of every env's stream of steps, each
one item of an ordinary buffer (R2D2's replay, Kapturowski et al. 2019; Acme's `SequenceAdder`).

Every `period` steps of a batched environment, each env emits the sequence of its last `length`
steps, so consecutive sequences of an env overlap by `length - period` steps (R2D2: 80 steps every
40). A sequence is a whole item: a prioritized buffer (`replay.prioritized`) then samples and
reprioritises sequences like any other item, with one priority per sequence (R2D2's mixture of
the max and mean |TD error| over it, set by the learner). The price is storing the overlapping
steps twice; the buffer itself needs nothing particular to sequences.

Sequences cross episode boundaries, as in R2D2; the stored `last` flags say where. Some extras
are only needed at a sequence's first step, e.g. the recurrent state the actor acted from (a
learner unrolls the sequence from it): `start_keys` names them, and an item keeps them once
(`Sequence.start`) instead of at every step. Before the run has produced `length` steps, the
first sequences are padded at their front with zero steps marked invalid (`Sequence.valid`), so
every push emits the same number of items (fixed shapes) and no step is lost.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence as SequenceOf

import jax
import jax.numpy as jnp

from jaxrl.replay import base
from jaxrl.types import Array, Transition


class Sequence(NamedTuple):
    """One replay item: `length` consecutive steps of one env.

    Attributes:
      steps: a `Transition` with a leading time axis [length, ...], its extras without the
        `start_keys`.
      start: {key: extras[key] at the first step} for the adder's `start_keys`.
      valid: bool [length]; False for the padding in front of the run's first steps.
    """

    steps: Transition
    start: dict[str, Any]
    valid: Array


class SequenceAdderState(NamedTuple):
    """The last `length - period` steps of every env (the overlap the next sequence begins with).

    Attributes:
      window: a `Transition` with leading axes [length - period, num_envs], oldest first.
      valid: bool [length - period]; False where no step has been pushed yet.
    """

    window: Transition
    valid: Array


class SequenceAdder(NamedTuple):
    """Turns a batched env's steps into sequence items (a bundle of pure functions).

    init: (example_step, num_envs) -> state; `example_step` is one env's `Transition` (no env axis).
    push: (state, steps) -> (state, items); `steps` is time-major [T, num_envs, ...] with T a
          multiple of `period`; `items` is a `Sequence` with leading axis [T / period * num_envs],
          sequences ordered by emission time, then env.
    """

    init: Callable[[Transition, int], SequenceAdderState]
    push: Callable[[SequenceAdderState, Transition], tuple[SequenceAdderState, Sequence]]
    length: int
    period: int


def sequence_adder(length: int, period: int | None = None, start_keys: SequenceOf[str] = ()) -> SequenceAdder:
    """An adder of sequences of `length` steps, one per env every `period` steps (default `length`:
    no overlap).

    Args:
      length: steps per sequence.
      period: steps between the starts of consecutive sequences of an env, in [1, length].
      start_keys: extras kept only at each sequence's first step (`Sequence.start`).

    Raises:
      ValueError: naming the argument, if an argument is out of range.
    """
    length = base.check_int("length", length, 1)
    period = length if period is None else base.check_int("period", period, 1)
    if period > length:
        raise ValueError(f"period ({period}) must be <= length ({length}): steps between sequences would be lost")
    overlap = length - period
    start_keys = tuple(start_keys)

    def init(example_step: Transition, num_envs: int) -> SequenceAdderState:
        num_envs = base.check_int("num_envs", num_envs, 1)
        missing = [k for k in start_keys if k not in example_step.extras]
        if missing:
            raise ValueError(f"start_keys {missing} are not in the steps' extras {sorted(example_step.extras)}")
        window = base.storage_like(example_step, (overlap, num_envs))
        return SequenceAdderState(window=window, valid=jnp.zeros((overlap,), jnp.bool_))

    def push(state: SequenceAdderState, steps: Transition) -> tuple[SequenceAdderState, Sequence]:
        num_steps = steps.reward.shape[0]
        if num_steps % period:
            raise ValueError(f"push takes a multiple of period={period} steps, got {num_steps}")
        num_envs = state.window.reward.shape[1]
        if steps.reward.ndim < 2 or steps.reward.shape[1] != num_envs:
            raise ValueError(f"push takes steps [T, num_envs={num_envs}, ...] (time-major), got reward of shape "
                             f"{steps.reward.shape}")
        steps, _ = base.check_items(state.window, steps)
        stream = jax.tree.map(lambda w, x: jnp.concatenate([w, x]), state.window, steps)  # [overlap + T, N]
        valid = jnp.concatenate([state.valid, jnp.ones((num_steps,), jnp.bool_)])
        starts = range(0, num_steps, period)

        def windows(x: Array) -> Array:
            # [overlap + T, N, ...] -> [K * N, length, ...]: sequence k of env n is row k * N + n.
            x = jnp.stack([x[s:s + length] for s in starts])  # [K, length, N, ...]
            x = jnp.swapaxes(x, 1, 2)
            return jnp.reshape(x, (x.shape[0] * x.shape[1],) + x.shape[2:])

        def first_steps(x: Array) -> Array:
            # [overlap + T, N, ...] -> [K * N, ...]: the step each sequence starts at, row k * N + n.
            x = jnp.stack([x[s] for s in starts])
            return jnp.reshape(x, (x.shape[0] * x.shape[1],) + x.shape[2:])

        # Start keys (a recurrent core's state: wide) are cut at the first steps only, never windowed.
        start = {k: jax.tree.map(first_steps, stream.extras[k]) for k in start_keys}
        rest = stream._replace(extras={k: v for k, v in stream.extras.items() if k not in start_keys})
        sequences = jax.tree.map(windows, rest)
        item_valid = jnp.repeat(jnp.stack([valid[s:s + length] for s in starts]), num_envs, axis=0)
        items = Sequence(steps=sequences, start=start, valid=item_valid)
        new_state = SequenceAdderState(window=jax.tree.map(lambda x: x[num_steps:], stream), valid=valid[num_steps:])
        return new_state, items

    return SequenceAdder(init=init, push=push, length=length, period=period)


__all__ = ["Sequence", "SequenceAdder", "SequenceAdderState", "sequence_adder"]
