"""PPO's actor-critic: separate MLP torsos for policy and value (PureJaxRL's CartPole setup)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from jaxrl import networks
from jaxrl.types import EnvSpec


class ActorCritic(nn.Module):
    """`__call__(obs) -> (policy, value)`; `policy` and `value` alone as methods. Each has its own
    torso: an MLP, or with `torso="conv"` a conv torso for image observations.

    Policy (a `networks.Policy`): categorical for discrete actions; for continuous ones a diagonal
    Gaussian whose samples the environment clips (`continuous_policy="gaussian"`) or a
    tanh-squashed one.
    """

    action_spec_discrete: bool
    action_size: int
    observation_ndim: int
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    continuous_policy: str = "gaussian"
    init_log_std: float = 0.0
    torso: str = "mlp"
    action_bounded: bool = True  # a continuous action box's bounds are finite: the greedy action is clipped

    def setup(self):
        # Row-major weight gradients (networks/dense.py) where the CPU tricks are on: faster on
        # XLA:CPU, most with many vmapped seeds (experiments/benchmarks/README.md).
        self.actor_torso = networks.make_torso(self.torso, self.hidden_sizes, self.activation, row_major_grads=True)
        self.critic_torso = networks.make_torso(self.torso, self.hidden_sizes, self.activation, row_major_grads=True)
        self.policy_head = networks.policy_head(self.action_spec_discrete, self.action_size, self.continuous_policy,
                                                self.init_log_std, self.action_bounded)
        self.value_head = networks.ValueHead()

    def _features(self, observation: jax.Array) -> jax.Array:
        return networks.torso_input(self.torso, observation, self.observation_ndim)

    def policy(self, observation: jax.Array) -> networks.Policy:
        return self.policy_head(self.actor_torso(self._features(observation)))

    def value(self, observation: jax.Array) -> jax.Array:
        return self.value_head(self.critic_torso(self._features(observation)))

    def __call__(self, observation: jax.Array) -> tuple[networks.Policy, jax.Array]:
        return self.policy(observation), self.value(observation)


def make_network(spec: EnvSpec, hidden_sizes: Sequence[int], activation: str,
                 continuous_policy: str | None, init_log_std: float | None, torso: str = "mlp") -> ActorCritic:
    discrete = spec.discrete_actions
    action_size = spec.action.num_values if discrete else int(spec.action.shape[-1])
    return ActorCritic(
        action_spec_discrete=discrete,
        action_size=action_size,
        observation_ndim=len(spec.observation.shape),
        hidden_sizes=tuple(hidden_sizes),
        activation=activation,
        continuous_policy=continuous_policy or "gaussian",
        init_log_std=0.0 if init_log_std is None else init_log_std,
        torso=torso,
        action_bounded=discrete or spec.action.bounded,
    )
