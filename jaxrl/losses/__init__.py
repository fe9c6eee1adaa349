"""RL losses and targets, thin over rlax where rlax has them."""

from jaxrl.losses.actor_critic import (
    categorical_td_losses,
    clipped_double_q_targets,
    deterministic_policy_gradient,
    deterministic_policy_gradient_loss,
    sac_actor_loss,
    sac_temperature_loss,
    smoothed_target_actions,
    squared_td_loss,
)
from jaxrl.losses import imitation, mpo, offline
from jaxrl.losses.offline import (advantage_weights, behaviour_cloning_mse, conservative_penalty, crr_weights,
                                  expectile_loss, large_margin_loss, ranking_loss, td3_bc_lambda)
from jaxrl.losses.advantages import VTrace, generalized_advantage_estimation, lambda_returns, vtrace
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
    inverse_value_rescaling,
    q_learning_td_errors,
    sequence_priorities,
    value_rescaling,
)

__all__ = [
    "VTrace",
    "advantage_weights",
    "behaviour_cloning_mse",
    "conservative_penalty",
    "crr_weights",
    "expectile_loss",
    "imitation",
    "large_margin_loss",
    "ranking_loss",
    "offline",
    "td3_bc_lambda",
    "categorical_mean",
    "categorical_q_learning_losses",
    "categorical_td_losses",
    "clipped_double_q_targets",
    "clipped_value_loss",
    "deterministic_policy_gradient",
    "deterministic_policy_gradient_loss",
    "generalized_advantage_estimation",
    "huber",
    "inverse_value_rescaling",
    "lambda_returns",
    "mpo",
    "normalize_advantages",
    "ppo_clipped_surrogate_loss",
    "q_learning_td_errors",
    "sac_actor_loss",
    "sac_temperature_loss",
    "sequence_priorities",
    "smoothed_target_actions",
    "squared_td_loss",
    "value_loss",
    "value_rescaling",
    "vtrace",
]
