"""Deep Q-Networks (Mnih et al. 2015): double, dueling, n-step, prioritized and C51 options."""

from jaxrl.agents.dqn.config import Config, HParams
from jaxrl.agents.dqn.learning import AgentState, dqn_loss, epsilon, make_agent, make_buffer, make_train
from jaxrl.agents.dqn.networks import QNetwork, make_network
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "HParams", "QNetwork", "dqn_loss", "epsilon", "make_agent", "make_buffer",
           "make_network", "make_policy", "make_train"]
