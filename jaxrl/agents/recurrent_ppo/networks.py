"""Recurrent PPO's actor-critic: embedding, recurrent core, then separate MLPs for policy and value
(PureJaxRL's `ppo_rnn.py` layout)."""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax

from jaxrl import networks
from jaxrl.types import EnvSpec


class RecurrentActorCritic(nn.Module):
    """`(carry, observation [T, B, ...], resets [T, B]) -> (carry, policy [T, B], value [T, B])`.

    `resets` marks the steps where an episode starts (the core's state is zeroed there); acting is
    the same call with T = 1. With `states=True` the core's state after every step comes back too.
    """

    action_spec_discrete: bool
    action_size: int
    observation_ndim: int
    hidden_sizes: Sequence[int] = (128,)
    activation: str = "relu"
    core: str = "gru"
    core_size: int = 128
    continuous_policy: str = "gaussian"
    init_log_std: float = 0.0
    torso: str = "mlp"  # the embedding: a dense layer, or "conv" (image observations) a conv torso ending in one
    action_bounded: bool = True  # a continuous action box's bounds are finite: the greedy action is clipped

    def setup(self):
        self.embedding = networks.make_torso(self.torso, (self.core_size,), self.activation)
        self.recurrent = networks.RecurrentCore(self.core, self.core_size)
        self.actor_torso = networks.MLP(self.hidden_sizes, self.activation)
        self.critic_torso = networks.MLP(self.hidden_sizes, self.activation)
        self.policy_head = networks.policy_head(self.action_spec_discrete, self.action_size, self.continuous_policy,
                                                self.init_log_std, self.action_bounded)
        self.value_head = networks.ValueHead()

    def __call__(self, carry: Any, observation: jax.Array, resets: jax.Array, states: bool = False):
        x = self.embedding(networks.torso_input(self.torso, observation, self.observation_ndim))
        carry, y, *after = self.recurrent(carry, x, resets, states=states)
        policy = self.policy_head(self.actor_torso(y))
        value = self.value_head(self.critic_torso(y))
        return (carry, policy, value, *after)

    def burn_in(self, carry: Any, observation: jax.Array, resets: jax.Array, active: jax.Array) -> Any:
        """The core's state after the `active` steps of `observation` [T, B, ...]."""
        x = self.embedding(networks.torso_input(self.torso, observation, self.observation_ndim))
        carry, _ = self.recurrent(carry, x, resets, active=active)
        return carry

    def initial_carry(self, batch_size: int) -> Any:
        return networks.initial_carry(self.core, self.core_size, (batch_size,))


def make_network(spec: EnvSpec, config: Any) -> RecurrentActorCritic:
    discrete = spec.discrete_actions
    return RecurrentActorCritic(
        action_spec_discrete=discrete,
        action_size=spec.action.num_values if discrete else int(spec.action.shape[-1]),
        observation_ndim=len(spec.observation.shape),
        hidden_sizes=tuple(config.hidden_sizes),
        activation=config.activation,
        core=config.core,
        core_size=config.core_size,
        continuous_policy=config.continuous_policy or "gaussian",
        init_log_std=0.0 if config.init_log_std is None else config.init_log_std,
        torso=config.torso,
        action_bounded=discrete or spec.action.bounded,
    )
