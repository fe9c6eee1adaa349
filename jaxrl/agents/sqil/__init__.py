"""Soft Q Imitation Learning (SQIL): imitation without rewards, on SAC or DQN (`direct_rl`)."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.sqil.config import Config, DQNConfig, SACConfig, config
from jaxrl.agents.sqil.learning import make_agent, make_train, relabel

__all__ = ["Config", "DQNConfig", "SACConfig", "config", "make_agent", "make_policy", "make_train", "relabel"]
