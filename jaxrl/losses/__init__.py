"""RL losses and targets, thin over rlax where rlax has them."""

from jaxrl.losses.advantages import generalized_advantage_estimation
from jaxrl.losses.policy_gradient import (
    clipped_value_loss,
    normalize_advantages,
    ppo_clipped_surrogate_loss,
    value_loss,
)

__all__ = [
    "clipped_value_loss",
    "generalized_advantage_estimation",
    "normalize_advantages",
    "ppo_clipped_surrogate_loss",
    "value_loss",
]
