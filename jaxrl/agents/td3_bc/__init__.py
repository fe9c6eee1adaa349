"""TD3+BC (Fujimoto & Gu 2021): TD3 with a behaviour-cloning term, on the offline loop."""

from jaxrl.agents.ddpg.learning import AgentState
from jaxrl.agents.policy import make_policy
from jaxrl.agents.td3_bc.config import Config, HParams
from jaxrl.agents.td3_bc.learning import make_agent, make_train

__all__ = ["AgentState", "Config", "HParams", "make_agent", "make_policy", "make_train"]
