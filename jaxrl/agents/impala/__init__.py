"""IMPALA (Espeholt et al. 2018): actor-critic with V-trace off-policy correction and lagged actors."""

from jaxrl.agents.impala.config import Config, HParams
from jaxrl.agents.impala.learning import (
    ActorState,
    Unrolls,
    env_minibatches,
    impala_loss,
    make_acting_agent,
    make_agent,
    make_train,
    optimizer,
)
from jaxrl.agents.impala.networks import ActorCritic, make_network
from jaxrl.agents.policy import make_policy

__all__ = ["ActorCritic", "ActorState", "Config", "HParams", "Unrolls", "env_minibatches", "impala_loss",
           "make_acting_agent", "make_agent", "make_network", "make_policy", "make_train", "optimizer"]
