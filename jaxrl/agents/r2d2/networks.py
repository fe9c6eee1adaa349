"""R2D2's recurrent Q-network: torso, recurrent core, Q head (Kapturowski et al. 2019: conv torso,
LSTM, dueling head)."""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax

from jaxrl import networks
from jaxrl.types import EnvSpec


class RecurrentQNetwork(nn.Module):
    """`(carry, observation [T, B, ...], resets [T, B]) -> (carry, Q [T, B, A])`.

    `resets` marks the steps where an episode starts (the core's state is zeroed there); acting is
    the same call with T = 1. `active` [T, B] (steps that advance the state, e.g. a burn-in's real
    steps) and `states=True` (also return the state after every step) are the core's.
    """

    num_actions: int
    observation_ndim: int
    hidden_sizes: Sequence[int] = (64,)
    activation: str = "relu"
    core: str = "lstm"
    core_size: int = 64
    dueling: bool = False
    torso: str = "mlp"

    def setup(self):
        self.embedding = networks.make_torso(self.torso, self.hidden_sizes, self.activation)
        self.recurrent = networks.RecurrentCore(self.core, self.core_size)
        self.head = networks.QHead(self.num_actions, self.dueling)

    def __call__(self, carry: Any, observation: jax.Array, resets: jax.Array, active: jax.Array | None = None,
                 states: bool = False):
        x = self.embedding(networks.torso_input(self.torso, observation, self.observation_ndim))
        carry, y, *after = self.recurrent(carry, x, resets, active=active, states=states)
        return (carry, self.head(y), *after)

    def initial_carry(self, batch_size: int) -> Any:
        return networks.initial_carry(self.core, self.core_size, (batch_size,))


def make_network(spec: EnvSpec, config: Any) -> RecurrentQNetwork:
    return RecurrentQNetwork(
        num_actions=spec.action.num_values,
        observation_ndim=len(spec.observation.shape),
        hidden_sizes=tuple(config.hidden_sizes),
        activation=config.activation,
        core=config.core,
        core_size=config.core_size,
        dueling=config.dueling,
        torso=config.torso,
    )
