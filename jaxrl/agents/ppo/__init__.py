"""Proximal Policy Optimization (Schulman et al. 2017)."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.ppo.config import Config, HParams
from jaxrl.agents.ppo.learning import (
    AgentState,
    Minibatch,
    make_agent,
    make_train,
    optimizer,
    ppo_loss,
    ppo_objective,
    training_batch,
)
from jaxrl.agents.ppo.networks import ActorCritic, make_network

__all__ = ["ActorCritic", "AgentState", "Config", "HParams", "Minibatch", "make_agent", "make_network", "make_policy",
           "make_train", "optimizer", "ppo_loss", "ppo_objective", "training_batch"]
