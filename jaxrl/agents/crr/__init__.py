"""Critic Regularized Regression (Wang et al. 2020) on the offline loop."""

from jaxrl.agents.crr.config import Config, HParams
from jaxrl.agents.crr.learning import AgentState, crr_losses, make_agent, make_train
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "HParams", "crr_losses", "make_agent", "make_policy", "make_train"]
