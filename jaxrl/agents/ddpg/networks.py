"""DDPG's networks: a deterministic tanh actor and one Q(s, a) critic."""

from __future__ import annotations

from typing import Sequence

from jaxrl import networks
from jaxrl.types import EnvSpec


def make_networks(spec: EnvSpec, hidden_sizes: Sequence[int],
                  activation: str) -> tuple[networks.DeterministicActor, networks.ContinuousQ]:
    """The actor and the critic for an environment `spec`."""
    observation_ndim = len(spec.observation.shape)
    actor = networks.DeterministicActor(int(spec.action.shape[-1]), tuple(hidden_sizes), activation, observation_ndim)
    critic = networks.ContinuousQ(tuple(hidden_sizes), activation, None, observation_ndim)
    return actor, critic
