"""Implicit Q-Learning (Kostrikov et al. 2021), on the offline loop."""

from jaxrl.agents.iql.config import Config, HParams
from jaxrl.agents.iql.learning import AgentState, iql_losses, make_agent, make_train
from jaxrl.agents.iql.networks import StateValue, make_networks
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "HParams", "StateValue", "iql_losses", "make_agent", "make_networks",
           "make_policy", "make_train"]
