"""Datasets from rollouts: episodes of any acting function (a trained `Policy`, uniform random
actions, a mix) in a jaxrl environment, played as one compiled program over a batch of envs.

    policy = jaxrl.agents.load_policy("cartpole_policy")
    transitions, returns = datasets.collect("CartPole-v1", policy, episodes=100, key=key, epsilon=0.1)
    datasets.save("cartpole-expert", transitions, env="CartPole-v1", kind="expert")

Each of `episodes` envs plays exactly one episode; its rows are kept up to and including the step
that ends it, so the dataset holds whole episodes only (a time limit is a truncation, kept as
one). Observations are the env's raw ones (a policy that trained with normalisation applies its
own statistics), actions those jaxrl's env stack takes (see `datasets.format`).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import envs
from jaxrl.datasets.format import episode_returns
from jaxrl.types import Array, PRNGKey, Transition

# act(observations [E, ...], key or None) -> actions [E, ...]: greedy without a key (a `Policy`).
Act = Callable[[Array, Any], Array]


def _explore(spec: Any, action: Array, key: PRNGKey, epsilon: float, noise: float) -> Array:
    """`action` after epsilon-random replacement (any action space) and Gaussian noise of std `noise`
    clipped to [-1, 1] (continuous actions)."""
    num_envs = action.shape[0]
    coin_key, random_key, noise_key = jax.random.split(key, 3)
    if noise > 0:
        action = jnp.clip(action + noise * jax.random.normal(noise_key, action.shape, action.dtype), -1.0, 1.0)
    if epsilon > 0:
        random = jax.vmap(spec.action.sample)(jax.random.split(random_key, num_envs)).astype(action.dtype)
        coin = jax.random.uniform(coin_key, (num_envs,)) < epsilon
        action = jnp.where(coin.reshape((num_envs,) + (1,) * (action.ndim - 1)), random, action)
    return action


def rollout(env: envs.Environment, act: Act | None, key: PRNGKey, num_steps: int, *, epsilon: float = 0.0,
            noise: float = 0.0, sample: bool = False) -> tuple[Transition, Array]:
    """`num_steps` steps of every env of the batched `env` (traceable): transitions [T, E] and
    `alive` [T, E], true while the env is still in its first episode (its ending step included).
    `act` None acts uniformly at random; `sample` hands `act` a key (sampled, not greedy, actions)."""
    spec = env.spec()
    num_envs = spec.num_envs
    reset_key, key = jax.random.split(key)
    env_state, timestep = env.reset(reset_key)

    def step(carry, step_key):
        env_state, observation, done = carry
        act_key, explore_key, env_key = jax.random.split(step_key, 3)
        if act is None:
            action = jax.vmap(spec.action.sample)(jax.random.split(act_key, num_envs))
        else:
            action = act(observation, act_key if sample else None)
        action = _explore(spec, action, explore_key, epsilon, noise)
        env_state, timestep = env.step(env_state, action, env_key)
        transition = Transition(observation=observation, action=action, reward=timestep.reward,
                                discount=timestep.discount, last=timestep.last(),
                                next_observation=timestep.extras["next_observation"], extras={})
        alive = ~done
        return (env_state, timestep.observation, done | timestep.last()), (transition, alive)

    carry = (env_state, timestep.observation, jnp.zeros((num_envs,), jnp.bool_))
    _, (transitions, alive) = jax.lax.scan(step, carry, jax.random.split(key, num_steps))
    return transitions, alive


def first_episodes(transitions: Transition, alive: np.ndarray) -> Transition:
    """Each env's first episode from `rollout`'s [T, E] output, env after env, as [N] rows; an
    episode the rollout cut before it ended is kept, its last row marked a truncation."""
    host = jax.tree.map(np.asarray, transitions)
    alive = np.asarray(alive)
    rows = []
    for e in range(alive.shape[1]):
        length = int(np.sum(alive[:, e]))
        episode = jax.tree.map(lambda x: x[:length, e], host)
        if length and not episode.last[-1]:
            episode = episode._replace(last=np.concatenate([episode.last[:-1], [True]]))
        rows.append(episode)
    return jax.tree.map(lambda *xs: np.concatenate(xs), *rows)


def check_options(env: str, episodes: int, epsilon: float = 0.0, noise: float = 0.0) -> None:
    """`collect`'s options for `env`, checked without collecting (ValueError naming the option):
    callers with work to do first (training the policy to collect with) check them before it."""
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"collect: episodes must be an int >= 1, got {episodes!r}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"collect: epsilon must be in [0, 1], got {epsilon!r}")
    if not noise >= 0.0:
        raise ValueError(f"collect: noise must be >= 0, got {noise!r}")
    if noise > 0 and envs.make(env).spec().discrete_actions:
        raise ValueError(f"collect: noise is for continuous actions; {env} has discrete ones (use epsilon)")


def collect(env: str, act: Act | None, *, episodes: int, key: PRNGKey, episode_length: int | None = None,
            epsilon: float = 0.0, noise: float = 0.0, sample: bool = False) -> tuple[Transition, np.ndarray]:
    """`episodes` whole episodes of `act` in the environment `env` (one per env of a batch), as
    dataset rows in episode order, and their returns.

    Args:
      env: an environment name for `jaxrl.make`.
      act: `act(observations, key_or_None) -> actions` on a batch (a `Policy` is one), or None for
        uniformly random actions.
      episodes: the number of episodes (and envs).
      key: picks the envs' starts, the exploration and the env noise.
      episode_length: a time limit (truncation) other than the env's own.
      epsilon: probability of replacing each action by a uniformly random one.
      noise: std of Gaussian noise added to continuous actions (then clipped to [-1, 1]).
      sample: hand `act` a key (its sampled actions) instead of None (greedy).
    """
    check_options(env, episodes, epsilon, noise)
    batched = envs.make_batched(env, episodes, episode_length=episode_length)
    spec = batched.spec()
    if spec.max_episode_steps is None:
        raise ValueError(f"collect: {env} has no time limit; pass episode_length")
    if getattr(act, "stateful", False):
        raise ValueError("collect: the policy has an actor state (a recurrent core); collect takes stateless "
                         "policies")
    transitions, alive = jax.jit(lambda k: rollout(batched, act, k, spec.max_episode_steps, epsilon=epsilon,
                                                   noise=noise, sample=sample))(key)
    rows = first_episodes(transitions, alive)
    return rows, episode_returns(rows.reward, rows.last)


__all__ = ["collect", "first_episodes", "rollout"]
