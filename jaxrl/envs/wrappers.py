"""Environment wrappers, each one concern: time limits, auto-reset, episode statistics,
batching, observation normalisation and masking, action rescaling and clipping.

The training stack, innermost first, is
`TimeLimit -> AutoReset -> EpisodeStatistics -> VmapEnv [-> NormalizeObservation]`;
`batched` builds it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import types
from jaxrl.envs.base import Environment, Wrapper
from jaxrl.types import Array, EnvSpec, PRNGKey, StepType, TimeStep


def _select(condition: Array, x: Any, y: Any) -> Any:
    """Elementwise choice between matching pytrees; `condition` broadcasts over trailing axes."""

    def select(a, b):
        c = jnp.reshape(condition, condition.shape + (1,) * (jnp.ndim(a) - condition.ndim))
        return jnp.where(c, a, b)

    return jax.tree.map(select, x, y)


class TimeLimitState(NamedTuple):
    env_state: Any
    steps: Array


@dataclasses.dataclass(frozen=True)
class TimeLimit(Wrapper):
    """Truncates episodes after `max_episode_steps` steps: a LAST step that keeps discount 1."""

    max_episode_steps: int = 1000

    def __post_init__(self):
        if self.max_episode_steps < 1:
            raise ValueError(f"TimeLimit: max_episode_steps must be >= 1, got {self.max_episode_steps}")

    def spec(self) -> EnvSpec:
        return dataclasses.replace(self.env.spec(), max_episode_steps=self.max_episode_steps)

    def reset(self, key: PRNGKey) -> tuple[TimeLimitState, TimeStep]:
        state, timestep = self.env.reset(key)
        return TimeLimitState(state, jnp.zeros((), jnp.int32)), timestep

    def step(self, state: TimeLimitState, action: Array, key: PRNGKey) -> tuple[TimeLimitState, TimeStep]:
        env_state, timestep = self.env.step(state.env_state, action, key)
        steps = state.steps + 1
        last = jnp.logical_or(timestep.last(), steps >= self.max_episode_steps)
        step_type = jnp.where(last, StepType.LAST, StepType.MID).astype(jnp.int8)
        return TimeLimitState(env_state, steps), timestep._replace(step_type=step_type)


@dataclasses.dataclass(frozen=True)
class AutoReset(Wrapper):
    """Starts a new episode inside the step that ends the old one (gymnax/brax convention).

    On a LAST step the returned `observation` is already the new episode's first observation,
    while reward, discount and step type still describe the transition that ended the episode.
    `extras["next_observation"]` always holds the true successor observation (before any
    reset), so a learner can bootstrap from it where the episode was truncated.
    """

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStep]:
        state, timestep = self.env.reset(key)
        extras = {**timestep.extras, "next_observation": timestep.observation}
        return state, timestep._replace(extras=extras)

    def step(self, state: Any, action: Array, key: PRNGKey) -> tuple[Any, TimeStep]:
        step_key, reset_key = jax.random.split(key)
        next_state, timestep = self.env.step(state, action, step_key)
        # One value for both uses: without the barrier XLA may compute the observation twice, in
        # two fusions that round differently (jax 0.11's XLA:CPU did, by 1 ulp in ~6% of CartPole
        # steps), and then next_observation[t] would not equal the observation of step t + 1.
        successor = jax.lax.optimization_barrier(timestep.observation)
        reset_state, reset_timestep = self.env.reset(reset_key)
        last = timestep.last()
        next_state = _select(last, reset_state, next_state)
        observation = _select(last, reset_timestep.observation, successor)
        extras = {**timestep.extras, "next_observation": successor}
        return next_state, timestep._replace(observation=observation, extras=extras)


class EpisodeStatisticsState(NamedTuple):
    env_state: Any
    episode_return: Array
    episode_length: Array


@dataclasses.dataclass(frozen=True)
class EpisodeStatistics(Wrapper):
    """Adds `extras["episode_return"]` and `extras["episode_length"]`: the running totals of
    the current episode, including this step; on a LAST step they are the finished episode's."""

    def reset(self, key: PRNGKey) -> tuple[EpisodeStatisticsState, TimeStep]:
        state, timestep = self.env.reset(key)
        zero_return, zero_length = jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)
        extras = {**timestep.extras, "episode_return": zero_return, "episode_length": zero_length}
        return EpisodeStatisticsState(state, zero_return, zero_length), timestep._replace(extras=extras)

    def step(self, state: EpisodeStatisticsState, action: Array, key: PRNGKey):
        env_state, timestep = self.env.step(state.env_state, action, key)
        episode_return = state.episode_return + timestep.reward
        episode_length = state.episode_length + 1
        extras = {**timestep.extras, "episode_return": episode_return, "episode_length": episode_length}
        keep = jnp.logical_not(timestep.last())
        new_state = EpisodeStatisticsState(
            env_state, jnp.where(keep, episode_return, 0.0), jnp.where(keep, episode_length, 0)
        )
        return new_state, timestep._replace(extras=extras)


@dataclasses.dataclass(frozen=True)
class VmapEnv(Wrapper):
    """A batch of `num_envs` independent copies of `env`, stepped together with `jax.vmap`.

    Keys are split per copy; actions and every leaf of state and time step gain a leading
    `num_envs` axis.
    """

    num_envs: int = 1

    def __post_init__(self):
        if self.num_envs < 1:
            raise ValueError(f"VmapEnv: num_envs must be >= 1, got {self.num_envs}")

    def spec(self) -> EnvSpec:
        return dataclasses.replace(self.env.spec(), num_envs=self.num_envs)

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStep]:
        return jax.vmap(self.env.reset)(jax.random.split(key, self.num_envs))

    def step(self, state: Any, action: Array, key: PRNGKey) -> tuple[Any, TimeStep]:
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self.env.step)(state, action, keys)


class NormalizationStats(NamedTuple):
    """Running mean and variance (Chan et al.'s parallel update), counted in observations."""

    mean: Array
    var: Array
    count: Array


def init_normalization(shape: tuple[int, ...]) -> NormalizationStats:
    return NormalizationStats(jnp.zeros(shape), jnp.ones(shape), jnp.asarray(1e-4, jnp.float32))


def update_normalization(stats: NormalizationStats, batch: Array) -> NormalizationStats:
    """Merges a batch (leading axis) into the running statistics."""
    batch_mean = jnp.mean(batch, axis=0)
    batch_var = jnp.var(batch, axis=0)
    batch_count = batch.shape[0]
    delta = batch_mean - stats.mean
    total = stats.count + batch_count
    mean = stats.mean + delta * batch_count / total
    m2 = stats.var * stats.count + batch_var * batch_count + delta**2 * stats.count * batch_count / total
    return NormalizationStats(mean, m2 / total, total)


def normalize(stats: NormalizationStats, observation: Array, clip: float, epsilon: float) -> Array:
    return jnp.clip((observation - stats.mean) / jnp.sqrt(stats.var + epsilon), -clip, clip)


class NormalizeObservationState(NamedTuple):
    env_state: Any
    stats: NormalizationStats


@dataclasses.dataclass(frozen=True)
class NormalizeObservation(Wrapper):
    """Normalises observations by running mean and variance, clipped to [-clip, clip].

    Wrap a batched environment (`VmapEnv`): statistics are shared over the batch axis and
    updated with every batch of new observations, as gymnasium's `NormalizeObservation` does.
    `extras["next_observation"]` is normalised with the same statistics.
    """

    clip: float = 10.0
    epsilon: float = 1e-8

    def spec(self) -> EnvSpec:
        spec = self.env.spec()
        if spec.num_envs is None:
            raise ValueError("NormalizeObservation wraps a batched environment (VmapEnv)")
        shape = spec.observation.shape
        box = types.Box(np.full(shape, -self.clip), np.full(shape, self.clip), shape)
        return dataclasses.replace(spec, observation=box)

    def normalize(self, stats: NormalizationStats, observation: Array) -> Array:
        """`observation` as this wrapper shows it to the agent under `stats` (its clip and epsilon)."""
        return normalize(stats, observation, self.clip, self.epsilon)

    def _apply(self, stats: NormalizationStats, timestep: TimeStep) -> TimeStep:
        extras = dict(timestep.extras)
        if "next_observation" in extras:
            extras["next_observation"] = self.normalize(stats, extras["next_observation"])
        observation = self.normalize(stats, timestep.observation)
        return timestep._replace(observation=observation, extras=extras)

    def reset(self, key: PRNGKey) -> tuple[NormalizeObservationState, TimeStep]:
        self.spec()  # checks batching
        state, timestep = self.env.reset(key)
        stats = update_normalization(init_normalization(timestep.observation.shape[1:]), timestep.observation)
        return NormalizeObservationState(state, stats), self._apply(stats, timestep)

    def step(self, state: NormalizeObservationState, action: Array, key: PRNGKey):
        env_state, timestep = self.env.step(state.env_state, action, key)
        stats = update_normalization(state.stats, timestep.observation)
        return NormalizeObservationState(env_state, stats), self._apply(stats, timestep)


def find_wrapper(env: Environment, wrapper_type: type) -> Wrapper | None:
    """The outermost wrapper of `wrapper_type` in `env`'s stack, or None."""
    while isinstance(env, Wrapper):
        if isinstance(env, wrapper_type):
            return env
        env = env.env
    return None


def find_normalization_stats(env_state: Any) -> NormalizationStats | None:
    """The running statistics inside an environment's state (`NormalizeObservationState`, at any
    depth of the tree), or None if the environment does not normalise observations.

    Acting outside the training envs (evaluation, an exported policy) must use these: statistics
    of the agent's own training data, not fresh ones of the new envs. Raises ValueError if the
    state holds more than one set (which one the agent saw would be ambiguous).
    """
    found = [x for x in jax.tree.leaves(env_state, is_leaf=lambda x: isinstance(x, NormalizeObservationState))
             if isinstance(x, NormalizeObservationState)]
    if len(found) > 1:
        raise ValueError(f"the environment state holds {len(found)} sets of observation-normalisation statistics; "
                         f"expected at most one")
    return found[0].stats if found else None


def training_normalizer(env: Environment) -> Callable[[Any, Array], Array] | None:
    """`normalize(env_state, observation)`: raw observations as the training env `env` shows them
    to the agent, normalised with the statistics held in `env_state` (a state of `env`) and the
    wrapper's clip and epsilon; None if `env` does not normalise observations.

    Evaluation envs are built without normalisation and pass their raw observations through this
    with the training state's env state, so the agent sees what it was trained on.
    """
    wrapper = find_wrapper(env, NormalizeObservation)
    if wrapper is None:
        return None

    def normalize_observation(env_state: Any, observation: Array) -> Array:
        stats = find_normalization_stats(env_state)
        if stats is None:
            raise ValueError("the training env normalises observations, but the env state given holds no "
                             "NormalizeObservationState")
        return wrapper.normalize(stats, observation)

    return normalize_observation


@dataclasses.dataclass(frozen=True)
class RescaleAction(Wrapper):
    """Lets the agent act in [-1, 1]^d: actions are clipped there, then mapped affinely onto the
    environment's bounded action box."""

    def spec(self) -> EnvSpec:
        spec = self.env.spec()
        action = spec.action
        if not isinstance(action, types.Box) or not action.bounded:
            raise ValueError(f"RescaleAction needs a bounded Box action space, {spec.name} has {action}")
        unit = types.Box(-np.ones(action.shape), np.ones(action.shape), action.shape)
        return dataclasses.replace(spec, action=unit)

    def step(self, state: Any, action: Array, key: PRNGKey) -> tuple[Any, TimeStep]:
        box = self.env.spec().action
        low, high = jnp.asarray(box.low), jnp.asarray(box.high)
        action = low + (jnp.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)
        return self.env.step(state, action, key)


@dataclasses.dataclass(frozen=True)
class MaskObservation(Wrapper):
    """Zeroes the observation's entries where `keep` is False (a partially observable variant of
    a flat-observation env, e.g. CartPole without its velocities, as popgym's stateless CartPole,
    Morad et al. 2023); `name`, if given, is the spec's new name."""

    keep: tuple[bool, ...] = ()
    name: str | None = None

    def __post_init__(self):
        shape = self.env.spec().observation.shape
        if len(shape) != 1 or len(self.keep) != shape[0]:
            raise ValueError(f"MaskObservation: keep has {len(self.keep)} entries for observations of shape {shape}")

    def spec(self) -> EnvSpec:
        spec = self.env.spec()
        return spec if self.name is None else dataclasses.replace(spec, name=self.name)

    def _mask(self, timestep: TimeStep) -> TimeStep:
        keep = jnp.asarray(self.keep, timestep.observation.dtype)
        return timestep._replace(observation=timestep.observation * keep)

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStep]:
        state, timestep = self.env.reset(key)
        return state, self._mask(timestep)

    def step(self, state: Any, action: Array, key: PRNGKey) -> tuple[Any, TimeStep]:
        state, timestep = self.env.step(state, action, key)
        return state, self._mask(timestep)


@dataclasses.dataclass(frozen=True)
class ClipAction(Wrapper):
    """Clips continuous actions into the environment's action box before stepping."""

    def step(self, state: Any, action: Array, key: PRNGKey) -> tuple[Any, TimeStep]:
        box = self.env.spec().action
        if not isinstance(box, types.Box):
            raise ValueError(f"ClipAction needs a Box action space, {self.env.spec().name} has {box}")
        return self.env.step(state, jnp.clip(action, box.low, box.high), key)


def batched(env: Environment, num_envs: int, normalize_observations: bool = False) -> Environment:
    """The training stack: auto-reset, episode statistics, `num_envs` vmapped copies, and
    optionally observation normalisation over the batch."""
    env = VmapEnv(EpisodeStatistics(AutoReset(env)), num_envs=num_envs)
    return NormalizeObservation(env) if normalize_observations else env
