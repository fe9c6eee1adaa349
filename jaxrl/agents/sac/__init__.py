"""Soft Actor-Critic (Haarnoja et al. 2018, the "applications" version with a learned temperature)."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.sac.config import Config, HParams
from jaxrl.agents.sac.learning import AgentState, make_agent, make_train
from jaxrl.agents.sac.networks import TanhGaussianActor

__all__ = ["AgentState", "Config", "HParams", "TanhGaussianActor", "make_agent", "make_policy", "make_train"]
