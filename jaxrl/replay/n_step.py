"""n-step transitions: sum n rewards, then bootstrap (Sutton 1988; Sutton & Barto 2018, ch. 7).

An n-step transition starting at step t covers m = min(n, steps to the end of the episode
counting the LAST step, steps left in the data) steps and carries

    reward   = sum_{k<m} gamma^k r_{t+k}
    discount = gamma^m prod_{k<m} d_{t+k}
    next_observation = next_observation_{t+m-1}

so a learner's target is `reward + discount * V(next_observation)` with no further gamma.
Note that `discount` therefore changes meaning: in a 1-step `Transition` it is the environment's
discount (0 at a termination), in an n-step one it is the whole bootstrap factor, gamma
included. `next_observation` of the last step of an episode is its true final observation
(`AutoReset` keeps it), so a truncation (d = 1) bootstraps from it while a termination (d = 0)
does not. Windows never cross an episode end (`last`), so no reward of the next episode leaks
in. n = 1 gives back the 1-step transitions with `discount` = gamma * d.

Two forms, giving the same transitions for every start whose window fits in the data:
`from_trajectory` for a time-major batch [T, E, ...] (e.g. a rollout), and `init` / `push`
for a stream of steps in an off-policy loop.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import chex
import jax
import jax.numpy as jnp

from jaxrl.replay import base
from jaxrl.types import Array, Transition


class NStepState(NamedTuple):
    """The last n steps of every env, oldest first, for `push`.

    Attributes:
      window: a `Transition` with leading axes [n, num_envs].
      count: int32, steps pushed so far, saturating at n; the window is full when count == n.
    """

    window: Transition
    count: Array


def from_trajectory(trajectory: Transition, n: int, gamma: Array | float) -> Transition:
    """The n-step transition starting at every step of a time-major trajectory [T, E, ...].

    Starts within n - 1 steps of the end of the data use the steps that remain (and bootstrap
    from the last of them), so every step starts exactly one transition. `observation`,
    `action` and `extras` are those of the start step; `last` says whether the window ends
    its episode.

    Args:
      trajectory: a `Transition` whose leaves have leading axes [T, ...] (`reward`,
        `discount` and `last` exactly [T, ...]); `discount` is the environment's (0 at a
        termination, 1 otherwise), not multiplied by gamma.
      n: the number of steps to sum, static.
      gamma: the discount factor, may be traced.

    Returns:
      a `Transition` of n-step transitions with the trajectory's shapes.
    """
    n = base.check_int("n", n, 1)
    _check_trajectory(trajectory)
    length = trajectory.reward.shape[0]

    def shift(x: Array, k: int) -> Array:
        # x[t + k] at row t, zeros past the end of the data.
        return jnp.concatenate([x[k:], jnp.zeros((min(k, length),) + x.shape[1:], x.dtype)])[:length]

    steps = [jax.tree.map(lambda x, k=k: shift(x, k), trajectory) for k in range(n)]
    present = [shift(jnp.ones(trajectory.reward.shape, jnp.bool_), k) for k in range(n)]
    return _accumulate(steps, present, gamma)


def init(example_transition: Transition, num_envs: int, n: int) -> NStepState:
    """An empty window for `push`; `example_transition` is one env's step (no env axis)."""
    num_envs = base.check_int("num_envs", num_envs, 1)
    n = base.check_int("n", n, 1)
    window = base.storage_like(example_transition, (n, num_envs))
    return NStepState(window=window, count=jnp.zeros((), jnp.int32))


def push(
    state: NStepState, transition: Transition, gamma: Array | float
) -> tuple[NStepState, Transition, Array]:
    """Adds one step of every env; returns the n-step transition that starts n - 1 steps ago.

    Each call emits exactly one transition per env: the one starting at step t - n + 1, whose
    window [t - n + 1, t] is complete now. If an episode ended inside that window, the
    transition stops at its LAST step (as in `from_trajectory`); the steps after it start
    their own transitions, emitted on later calls. So every step starts exactly one emitted
    transition, n - 1 calls after it was pushed, and the output has a fixed shape [E] that a
    buffer's `add` takes as is. (Flushing all pending starts at an episode end would emit
    them sooner, but a variable number per call, which fixed-shape buffers cannot take.) The
    first n - 1 calls have nothing complete yet: `valid` is False there; the last n - 1 starts
    of a run are still pending when it stops.

    Args:
      state: from `init` or the previous `push`.
      transition: a `Transition` with a leading env axis [E, ...], environment discount.
      gamma: the discount factor, may be traced.

    Returns:
      (state, n-step transitions [E, ...], valid bool [E]).
    """
    newest = jax.tree.map(lambda w: w[-1], state.window)
    transition, _ = base.check_items(newest, transition, num_leading=0)
    window = jax.tree.map(lambda w, x: jnp.concatenate([w[1:], x[None]]), state.window, transition)
    n, num_envs = window.reward.shape[:2]
    count = jnp.minimum(state.count + 1, n)
    steps = [jax.tree.map(lambda w, k=k: w[k], window) for k in range(n)]
    present = [jnp.ones((num_envs,), jnp.bool_)] * n
    ready = _accumulate(steps, present, gamma)
    valid = jnp.broadcast_to(count >= n, (num_envs,))
    return NStepState(window=window, count=count), ready, valid


def _accumulate(steps: Sequence[Transition], present: Sequence[Array], gamma: Array | float) -> Transition:
    """The n-step transition starting at `steps[0]`, where `steps[k]` is the k-th step after it.

    `present[k]` is False where step k lies beyond the data. A step is included while every
    earlier one was present and not LAST; the included steps are a prefix of the window, so
    selecting step k's `next_observation` wherever k is included leaves the last included one.
    """
    first = steps[0]
    rewards = first.reward
    chex.assert_equal_shape([first.reward, first.discount, first.last])
    gamma = jnp.asarray(gamma, rewards.dtype)
    included = present[0]
    n_step_return = jnp.zeros_like(rewards)
    discount = jnp.ones_like(first.discount)
    next_observation = first.next_observation
    ended = jnp.zeros_like(first.last)
    scale = jnp.ones_like(rewards)  # gamma^k
    for k, (step, step_present) in enumerate(zip(steps, present)):
        if k > 0:
            included = included & step_present & ~steps[k - 1].last.astype(jnp.bool_)
        n_step_return = n_step_return + jnp.where(included, scale * step.reward, 0)
        discount = jnp.where(included, discount * gamma * step.discount, discount)
        next_observation = jax.tree.map(
            lambda old, new: jnp.where(_expand(included, new), new, old),
            next_observation,
            step.next_observation,
        )
        ended = jnp.where(included, step.last, ended)
        scale = scale * gamma
    return first._replace(
        reward=n_step_return, discount=discount, last=ended, next_observation=next_observation
    )


def _expand(mask: Array, like: Array) -> Array:
    """`mask` with trailing unit axes to broadcast against `like`."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - mask.ndim))


def _check_trajectory(trajectory: Transition) -> None:
    if jnp.ndim(trajectory.reward) < 1:
        raise ValueError("the trajectory needs a leading time axis: reward has shape ()")
    chex.assert_equal_shape([trajectory.reward, trajectory.discount, trajectory.last])
    prefix = trajectory.reward.shape
    chex.assert_tree_shape_prefix((trajectory.observation, trajectory.next_observation), prefix)


__all__ = ["NStepState", "from_trajectory", "init", "push"]
