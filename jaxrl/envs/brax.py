"""Adapter from brax environments (physics only, no `brax.training`) to jaxrl's protocol.

brax's raw environments report termination in `done` and have no time limit; `make` adds
`TimeLimit` (1000 steps by default, brax's own convention) so truncation is a LAST step with
discount 1. brax actions live in [-1, 1].
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sys
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxrl import types
from jaxrl.types import Array, EnvSpec, PRNGKey, TimeStep


@dataclasses.dataclass(frozen=True)
class BraxEnv:
    """A brax `Env` seen as a jaxrl `Environment`; brax's state is the env state."""

    env: Any
    name: str
    # brax's `observation_size` runs an eager reset (seconds on CPU); compute the spec once.
    _spec: EnvSpec | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self._spec is None:
            object.__setattr__(self, "_spec", self._compute_spec())

    def spec(self) -> EnvSpec:
        return self._spec

    def _compute_spec(self) -> EnvSpec:
        obs_size = int(self.env.observation_size)
        act_size = int(self.env.action_size)
        return EnvSpec(
            name=self.name,
            observation=types.Box(np.full(obs_size, -np.inf), np.full(obs_size, np.inf), (obs_size,)),
            action=types.Box(-np.ones(act_size), np.ones(act_size), (act_size,)),
        )

    def reset(self, key: PRNGKey) -> tuple[Any, TimeStep]:
        state = self.env.reset(key)
        return state, types.restart(jnp.asarray(state.obs, jnp.float32))

    def step(self, state: Any, action: Array, key: PRNGKey) -> tuple[Any, TimeStep]:
        del key  # brax dynamics are deterministic
        state = self.env.step(state, action)
        timestep = types.transition(
            jnp.asarray(state.obs, jnp.float32), state.reward, state.done > 0.5, False
        )
        return state, timestep


def _brax_envs() -> Any:
    """`brax.envs`, imported without the lines MuJoCo's MJX prints to stdout when NVIDIA Warp (a
    GPU physics backend brax's environments here do not use) is not installed ("Failed to import
    warp: ..."), which read like errors in a user's output. Printed text is kept if the import fails."""
    if "brax.envs" in sys.modules:
        return sys.modules["brax.envs"]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            from brax import envs as brax_envs
    except BaseException:
        sys.stderr.write(printed.getvalue())
        raise
    return brax_envs


def make_brax(name: str, **kwargs: Any) -> BraxEnv:
    """Makes brax environment `name` (e.g. "ant"); `kwargs` go to its constructor."""
    return BraxEnv(env=_brax_envs().get_environment(name, **kwargs), name=f"brax/{name}")


def brax_names() -> list[str]:
    return sorted(_brax_envs()._envs)  # pylint: disable=protected-access
