"""IMPALA's actor-critic: PPO's (separate MLP torsos for the policy and the value; a categorical
policy); `torso="conv"` for image observations, e.g. MinAtar's."""

from __future__ import annotations

from typing import Any

from jaxrl.agents.ppo.networks import ActorCritic
from jaxrl.agents.ppo.networks import make_network as make_actor_critic
from jaxrl.types import EnvSpec


def make_network(spec: EnvSpec, config: Any) -> ActorCritic:
    return make_actor_critic(spec, config.hidden_sizes, config.activation, None, None, config.torso)


__all__ = ["ActorCritic", "make_network"]
