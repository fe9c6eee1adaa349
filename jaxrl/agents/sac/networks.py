"""SAC's networks: a tanh-squashed Gaussian policy and twin Q(s, a) critics."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl import networks
from jaxrl.types import EnvSpec

# The policy's log standard deviation is squashed into this range (as in CleanRL's SAC), so that
# neither a collapsing nor an exploding std can make log-probabilities blow up.
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class TanhGaussianActor(nn.Module):
    """pi(.|s) = tanh(N(mu(s), diag(sigma(s)^2))), actions in (-1, 1)^A (Haarnoja et al. 2018).

    The mean and the state-dependent log std come from one MLP; the output is the policy heads'
    `networks.TanhGaussianPolicy`, whose log-probabilities of its own samples
    (`sample_and_log_prob`) use the stable tanh log-Jacobian 2 (log 2 - x - softplus(-2x)) at the
    pre-squash sample x, never atanh of the action.
    """

    action_size: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    observation_ndim: int = 1

    @nn.compact
    def __call__(self, observation: jax.Array) -> networks.TanhGaussianPolicy:
        x = networks.flatten_observation(observation, self.observation_ndim)
        x = networks.MLP(self.hidden_sizes, self.activation)(x)
        mean, log_std = jnp.split(nn.Dense(2 * self.action_size)(x), 2, axis=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(log_std) + 1.0)
        return networks.TanhGaussianPolicy(mean, log_std)


def make_networks(spec: EnvSpec, hidden_sizes: Sequence[int], activation: str) -> tuple[TanhGaussianActor,
                                                                                        networks.CriticEnsemble]:
    """The policy and the twin critics for an environment `spec`."""
    observation_ndim = len(spec.observation.shape)
    actor = TanhGaussianActor(int(spec.action.shape[-1]), tuple(hidden_sizes), activation, observation_ndim)
    critic = networks.CriticEnsemble(2, tuple(hidden_sizes), activation, None, observation_ndim)
    return actor, critic
