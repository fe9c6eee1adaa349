"""A dataset in device memory behind the replay contract: the offline loop, and any user loop that
samples replay, reads it through `replay.uniform`'s `sample`, so a dataset shards and vmaps like
any buffer state (and a demonstration set mixes with a live buffer as two buffers)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import replay
from jaxrl.datasets.format import check_transitions
from jaxrl.replay.uniform import UniformState
from jaxrl.types import Array, PRNGKey, Transition

# The sampled batch's extras entry that marks its demonstration rows (True) from its own (False).
DEMONSTRATION = "demonstration"


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


class DemonstrationsState(NamedTuple):
    """State of `with_demonstrations`' buffer: the live buffer's, and the demonstrations' (full)."""

    live: Any
    demonstrations: UniformState


def with_demonstrations(live: replay.ReplayBuffer, demonstrations: Transition,
                        num_demonstrations: int) -> replay.ReplayBuffer:
    """`live` (the agent's own buffer) with a fixed set of demonstration rows mixed into every
    batch: each sample holds `num_demonstrations` rows drawn uniformly from `demonstrations`, then
    `live`'s own batch, and marks them in `extras["demonstration"]` (True for the first
    `num_demonstrations` rows). The demonstrations' importance weights are 1; `add` and
    `can_sample` are the live buffer's, and so is reprioritisation (of its rows only). The fixed
    mix of DDPGfD / SACfD (Vecerik et al. 2017, arXiv:1707.08817), DQfD (Hester et al. 2018) and
    SQIL (Reddy et al. 2020); items are single transitions (n-step windows would not match the
    demonstrations' rows)."""
    size = check_transitions(demonstrations)
    if isinstance(num_demonstrations, bool) or not isinstance(num_demonstrations, int) or num_demonstrations < 1:
        raise ValueError(f"with_demonstrations: num_demonstrations must be an int >= 1, got {num_demonstrations!r}")
    if DEMONSTRATION in demonstrations.extras:
        raise ValueError(f"with_demonstrations: the demonstrations' extras already hold {DEMONSTRATION!r}")
    demonstration_buffer = replay.uniform(size, num_demonstrations, min_size=1)
    rows = jax.tree.map(jnp.asarray, demonstrations)

    def init(example_item: Transition) -> DemonstrationsState:
        want = jax.tree.map(lambda x: (jnp.shape(x), jnp.result_type(x)), example_item)
        got = jax.tree.map(lambda x: (jnp.shape(x)[1:], jnp.result_type(x)), replay_state(rows).data)
        if jax.tree.structure(want) != jax.tree.structure(got) or want != got:
            raise ValueError(f"with_demonstrations: the demonstrations' rows {got} do not match the agent's "
                             f"transitions {want}")
        return DemonstrationsState(live=live.init(example_item), demonstrations=replay_state(rows))

    def add(state: DemonstrationsState, items: Transition) -> DemonstrationsState:
        return state._replace(live=live.add(state.live, items))

    def sample(state: DemonstrationsState, key: PRNGKey) -> tuple[Transition, replay.SampleInfo]:
        demonstration_key, live_key = jax.random.split(key)
        shown, shown_info = demonstration_buffer.sample(state.demonstrations, demonstration_key)
        own, own_info = live.sample(state.live, live_key)
        batch = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), shown, own)
        marks = jnp.arange(num_demonstrations + own_info.indices.shape[0]) < num_demonstrations
        batch = batch._replace(extras={**batch.extras, DEMONSTRATION: marks})
        info = replay.SampleInfo(jnp.concatenate([shown_info.indices, own_info.indices]),
                                 jnp.concatenate([shown_info.weights, own_info.weights]))
        return batch, info

    def can_sample(state: DemonstrationsState) -> Array:
        return live.can_sample(state.live)

    update_priorities = None
    if live.update_priorities is not None:

        def update_priorities(state: DemonstrationsState, indices: Array, priorities: Array) -> DemonstrationsState:
            return state._replace(live=live.update_priorities(state.live, indices[num_demonstrations:],
                                                              priorities[num_demonstrations:]))

    return replay.ReplayBuffer(init=init, add=add, sample=sample, can_sample=can_sample,
                               update_priorities=update_priorities)


__all__ = ["DEMONSTRATION", "DemonstrationsState", "as_replay", "replay_state", "with_demonstrations",
           "with_next_actions"]
