"""A dataset in device memory behind the replay contract: the offline loop, and any user loop that
samples replay, reads it through `replay.uniform`'s `sample`, so a dataset shards and vmaps like
any buffer state (and a demonstration set mixes with a live buffer as two buffers)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl import replay
from jaxrl.datasets.format import check_transitions
from jaxrl.replay.uniform import UniformState
from jaxrl.types import Transition


def as_replay(dataset: Transition, batch_size: int) -> tuple[replay.ReplayBuffer, UniformState]:
    """A uniform buffer of the dataset's size sampling `batch_size` rows, and its state, full of
    the dataset's rows (on the default device). `sample(state, key)` draws rows uniformly with
    replacement, as from any `replay.uniform` buffer."""
    n = check_transitions(dataset)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"as_replay: batch_size must be an int >= 1, got {batch_size!r}")
    buffer = replay.uniform(n, batch_size, min_size=1)
    return buffer, replay_state(dataset)


def replay_state(dataset: Transition) -> UniformState:
    """The state of `as_replay`'s buffer for `dataset`: traceable, so datasets of equal size can be
    handed to a vmapped program and become each member's buffer."""
    n = jnp.shape(dataset.reward)[0]
    data = jax.tree.map(jnp.asarray, dataset._replace(discount=jnp.asarray(dataset.discount, jnp.float32),
                                                      last=jnp.asarray(dataset.last, jnp.bool_)))
    return UniformState(data=data, insert_position=jnp.zeros((), jnp.int32), size=jnp.full((), n, jnp.int32))


def with_next_actions(dataset: Transition) -> Transition:
    """`dataset` with each row's next action in `extras`: "next_action", the action taken at
    next_observation (the next row's, rows being whole episodes in order), and "next_action_known",
    False where an episode was cut short (last with discount 1), whose next action was never taken.
    A terminated row's next action is unused (its bootstrap discount is 0) and marked known. The
    SARSA tuples of behaviour value estimation (Gulcehre et al. 2021); traceable."""
    next_action = jnp.roll(jnp.asarray(dataset.action), -1, axis=0)
    known = ~(jnp.asarray(dataset.last, jnp.bool_) & (jnp.asarray(dataset.discount) > 0))
    return dataset._replace(extras={**dataset.extras, "next_action": next_action, "next_action_known": known})


__all__ = ["as_replay", "replay_state", "with_next_actions"]
