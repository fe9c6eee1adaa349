"""Adapter from gymnax environments to the jaxrl `Environment` protocol.

gymnax (>= 1.0) separates natural termination (`step_env`'s flag) from truncation
(`is_truncated`, the `max_steps_in_episode` time limit); we map them to dm_env discounts:
termination -> LAST with discount 0, truncation -> LAST with discount 1.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces as gymnax_spaces

from jaxrl import types
from jaxrl.types import Array, EnvSpec, PRNGKey, TimeStep


def _convert_space(space: Any, what: str) -> types.Space:
    if isinstance(space, gymnax_spaces.Discrete):
        return types.Discrete(int(space.n))
    if isinstance(space, gymnax_spaces.Box):
        return types.Box(np.asarray(space.low), np.asarray(space.high), tuple(space.shape))
    raise TypeError(f"unsupported gymnax {what} space {space!r}: jaxrl handles Discrete and Box")


@dataclasses.dataclass(frozen=True)
class GymnaxEnv:
    """A gymnax environment and its params, seen as a jaxrl `Environment` (no auto-reset)."""

    env: Any
    params: Any
    name: str
    # Both computed once at construction: gymnax builds spaces with jnp ops, which would
    # otherwise run again (as dead traced ops) in every wrapper that asks for the spec.
    _spec: EnvSpec | None = dataclasses.field(default=None, compare=False, repr=False)
    _one_hot_size: int | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self._spec is not None:
            return
        with jax.ensure_compile_time_eval():  # keep space bounds concrete even while tracing
            space = self.env.observation_space(self.params)
            observation = _convert_space(space, "observation")
            if isinstance(observation, types.Discrete):  # seen one-hot, see `_observe`
                n = observation.num_values
                object.__setattr__(self, "_one_hot_size", n)
                observation = types.Box(np.zeros(n), np.ones(n), (n,))
            max_steps = getattr(self.params, "max_steps_in_episode", None)
            spec = EnvSpec(
                name=self.name,
                observation=observation,
                action=_convert_space(self.env.action_space(self.params), "action"),
                max_episode_steps=None if max_steps is None else int(max_steps),
            )
        object.__setattr__(self, "_spec", spec)

    def spec(self) -> EnvSpec:
        return self._spec

    def _observe(self, observation: Any) -> Array:
        # Discrete observations (e.g. FrozenLake's cell index) become one-hot float vectors, so
        # every agent sees a Box; everything else is cast to float32.
        if self._one_hot_size is not None:
            return jax.nn.one_hot(observation, self._one_hot_size, dtype=jnp.float32)
        return jnp.asarray(observation, jnp.float32)

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStep]:
        observation, state = self.env.reset_env(key, self.params)
        return state, types.restart(self._observe(observation))

    def step(self, state: Any, action: Array, key: PRNGKey) -> tuple[Any, TimeStep]:
        observation, state, reward, terminated, _ = self.env.step_env(key, state, action, self.params)
        truncated = self.env.is_truncated(state, self.params)
        timestep = types.transition(self._observe(observation), reward, terminated, truncated)
        return state, timestep


def make_gymnax(name: str, **kwargs: Any) -> GymnaxEnv:
    """Makes the gymnax environment `name`; `kwargs` override fields of its default params."""
    import gymnax

    env, params = gymnax.make(name)
    if kwargs:
        params = params.replace(**kwargs)
    return GymnaxEnv(env=env, params=params, name=name)
