"""SAC from demonstrations (SACfD): SAC with demonstrations mixed into every replayed batch."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.sac import HParams
from jaxrl.agents.sacfd.config import Config
from jaxrl.agents.sacfd.learning import make_agent, make_train

__all__ = ["Config", "HParams", "make_agent", "make_policy", "make_train"]
