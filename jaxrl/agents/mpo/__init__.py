"""MPO (Abdolmaleki et al. 2018): maximum a posteriori policy optimisation with decoupled KL
constraints on a Gaussian policy's mean and standard deviation."""

from jaxrl.agents.mpo.config import Config, HParams
from jaxrl.agents.mpo.learning import AgentState, Duals, make_agent, make_train
from jaxrl.agents.mpo.networks import GaussianActor, make_networks
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "Duals", "GaussianActor", "HParams", "make_agent", "make_networks", "make_policy",
           "make_train"]
