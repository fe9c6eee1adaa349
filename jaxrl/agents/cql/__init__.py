"""Conservative Q-Learning (Kumar et al. 2020) on the offline loop: on SAC for continuous actions,
on DQN for discrete ones."""

from jaxrl.agents.cql.config import Config, HParams
from jaxrl.agents.cql.learning import continuous_penalty, discrete_loss, make_agent, make_train
from jaxrl.agents.cql.networks import make_networks
from jaxrl.agents.policy import make_policy

__all__ = ["Config", "HParams", "continuous_penalty", "discrete_loss", "make_agent", "make_networks", "make_policy",
           "make_train"]
