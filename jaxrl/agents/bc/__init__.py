"""Behaviour cloning (Pomerleau 1991): a policy fitted to a dataset's actions, on the offline loop."""

from jaxrl.agents.bc.config import Config, HParams
from jaxrl.agents.bc.learning import AgentState, bc_loss, make_agent, make_train
from jaxrl.agents.bc.networks import PolicyNetwork, make_network
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "HParams", "PolicyNetwork", "bc_loss", "make_agent", "make_network", "make_policy",
           "make_train"]
