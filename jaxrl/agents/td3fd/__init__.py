"""TD3 from demonstrations (TD3fD): TD3 with demonstrations mixed into every replayed batch."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.td3 import HParams
from jaxrl.agents.td3fd.config import Config
from jaxrl.agents.td3fd.learning import make_agent, make_train

__all__ = ["Config", "HParams", "make_agent", "make_policy", "make_train"]
