"""TD3's networks: a deterministic tanh actor and twin Q(s, a) critics, run as one ensemble."""

from __future__ import annotations

from typing import Sequence

from jaxrl import networks
from jaxrl.types import EnvSpec


def make_networks(spec: EnvSpec, hidden_sizes: Sequence[int],
                  activation: str) -> tuple[networks.DeterministicActor, networks.CriticEnsemble]:
    """The actor and the twin critics for an environment `spec`."""
    observation_ndim = len(spec.observation.shape)
    actor = networks.DeterministicActor(int(spec.action.shape[-1]), tuple(hidden_sizes), activation, observation_ndim)
    critic = networks.CriticEnsemble(2, tuple(hidden_sizes), activation, None, observation_ndim)
    return actor, critic
