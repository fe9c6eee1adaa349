"""Parallelised Q-Network (Gallici et al. 2024): Q(lambda) from parallel envs, no replay, no target network."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.pqn.config import Config, HParams
from jaxrl.agents.pqn.learning import AgentState, epsilon, make_agent, make_train, pqn_loss
from jaxrl.agents.pqn.networks import QNetwork, make_network

__all__ = ["AgentState", "Config", "HParams", "QNetwork", "epsilon", "make_agent", "make_network", "make_policy",
           "make_train", "pqn_loss"]
