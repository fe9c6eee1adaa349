"""PQN's Q-network: DQN's (an MLP torso and a Q head) with LayerNorm before each hidden activation."""

from __future__ import annotations

from typing import Sequence

from jaxrl.agents.dqn import networks as dqn_networks
from jaxrl.agents.dqn.networks import QNetwork
from jaxrl.types import EnvSpec


def make_network(spec: EnvSpec, hidden_sizes: Sequence[int], activation: str, layer_norm: bool,
                 torso: str = "mlp") -> QNetwork:
    # Row-major weight gradients where the CPU tricks are on (networks/dense.py), as PPO's torsos.
    return dqn_networks.make_network(spec, hidden_sizes, activation, dueling=False, num_atoms=None,
                                     layer_norm=layer_norm, row_major_grads=True, torso=torso)


__all__ = ["QNetwork", "make_network"]
