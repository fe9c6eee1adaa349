"""Deep Deterministic Policy Gradient (Lillicrap et al. 2016), and the deterministic-actor pieces
TD3 and D4PG share."""

from jaxrl.agents.ddpg.config import Config, HParams
from jaxrl.agents.ddpg.learning import AgentState, make_agent, make_train
from jaxrl.agents.ddpg.networks import make_networks
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "HParams", "make_agent", "make_networks", "make_policy", "make_train"]
