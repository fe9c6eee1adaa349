"""The functional `Environment` protocol and the base class of wrappers."""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

from jaxrl.types import Array, EnvSpec, EnvState, PRNGKey, TimeStep


def check_episode_length(episode_length: object) -> None:
    """ValueError unless `episode_length` (a time limit given by name to `make` or `make_host`) is
    None or an int >= 1."""
    if episode_length is not None and (isinstance(episode_length, bool) or not isinstance(episode_length, int)
                                       or episode_length < 1):
        raise ValueError(f"episode_length must be an int >= 1 or None, got {episode_length!r}")


@runtime_checkable
class Environment(Protocol):
    """A functional environment: a frozen object whose methods are pure functions.

    `reset(key) -> (state, timestep)` starts an episode with a FIRST step;
    `step(state, action, key) -> (state, timestep)` advances it. `spec()` is static Python.
    Implementations never auto-reset (that is `AutoReset`'s job) and never batch (that is
    `VmapEnv`'s job), so that each concern is one small wrapper.
    """

    def spec(self) -> EnvSpec: ...

    def reset(self, key: PRNGKey) -> tuple[EnvState, TimeStep]: ...

    def step(self, state: EnvState, action: Array, key: PRNGKey) -> tuple[EnvState, TimeStep]: ...


@dataclasses.dataclass(frozen=True)
class Wrapper:
    """Base of all wrappers: holds the inner environment and forwards what it does not change."""

    env: Environment

    def spec(self) -> EnvSpec:
        return self.env.spec()

    def reset(self, key: PRNGKey) -> tuple[EnvState, TimeStep]:
        return self.env.reset(key)

    def step(self, state: EnvState, action: Array, key: PRNGKey) -> tuple[EnvState, TimeStep]:
        return self.env.step(state, action, key)

    @property
    def unwrapped(self) -> Environment:
        env = self.env
        while isinstance(env, Wrapper):
            env = env.env
        return env
