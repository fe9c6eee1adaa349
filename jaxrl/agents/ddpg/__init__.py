"""Deep Deterministic Policy Gradient (Lillicrap et al. 2016)."""

from jaxrl.agents.ddpg.config import Config, HParams
from jaxrl.agents.ddpg.learning import AgentState, make_agent, make_env, make_train
from jaxrl.agents.ddpg.networks import make_networks

__all__ = ["AgentState", "Config", "HParams", "make_agent", "make_env", "make_networks", "make_train"]
