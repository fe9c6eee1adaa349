"""Twin Delayed DDPG (Fujimoto et al. 2018)."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.td3.config import Config, HParams
from jaxrl.agents.td3.learning import AgentState, make_agent, make_train
from jaxrl.agents.td3.networks import make_networks

__all__ = ["AgentState", "Config", "HParams", "make_agent", "make_networks", "make_policy", "make_train"]
