"""CQL's networks: SAC's for continuous actions, DQN's Q-network for discrete ones."""

from __future__ import annotations

from typing import Any, Sequence

from jaxrl.agents.dqn.networks import make_network as make_q_network
from jaxrl.agents.sac.networks import make_networks as make_sac_networks
from jaxrl.types import EnvSpec


def make_networks(spec: EnvSpec, hidden_sizes: Sequence[int], activation: str) -> tuple[Any, ...]:
    """(Q-network,) for discrete actions; (tanh-Gaussian policy, twin critics) for continuous ones."""
    if spec.discrete_actions:
        return (make_q_network(spec, hidden_sizes, activation, dueling=False, num_atoms=None),)
    return make_sac_networks(spec, hidden_sizes, activation)
