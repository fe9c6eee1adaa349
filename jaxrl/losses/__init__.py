"""RL losses and targets, thin over rlax where rlax has them."""

from jaxrl.losses.advantages import generalized_advantage_estimation
from jaxrl.losses.policy_gradient import (
    clipped_value_loss,
    normalize_advantages,
    ppo_clipped_surrogate_loss,
    value_loss,
)
from jaxrl.losses.value_based import (
    categorical_mean,
    categorical_q_learning_losses,
    huber,
    q_learning_td_errors,
)

__all__ = [
    "categorical_mean",
    "categorical_q_learning_losses",
    "huber",
    "q_learning_td_errors",
    "clipped_value_loss",
    "generalized_advantage_estimation",
    "normalize_advantages",
    "ppo_clipped_surrogate_loss",
    "value_loss",
]
