"""Distributed Distributional DDPG (Barth-Maron et al. 2018), one process."""

from jaxrl.agents.d4pg.config import Config, HParams
from jaxrl.agents.d4pg.learning import AgentState, make_agent, make_train
from jaxrl.agents.d4pg.networks import make_networks
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "HParams", "make_agent", "make_networks", "make_policy", "make_train"]
