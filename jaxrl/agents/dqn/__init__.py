"""Deep Q-Networks (Mnih et al. 2015): double, dueling, n-step, prioritized and C51 options."""

from jaxrl.agents.dqn.config import Config, HParams
from jaxrl.agents.dqn.learning import (
           AgentState,
           dqn_loss,
           epsilon,
           make_agent,
           make_env,
           make_train,
)
from jaxrl.agents.dqn.networks import QNetwork

__all__ = ["AgentState", "Config", "HParams", "QNetwork", "dqn_loss", "epsilon", "make_agent", "make_env",
           "make_train"]
