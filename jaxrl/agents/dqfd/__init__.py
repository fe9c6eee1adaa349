"""Deep Q-learning from Demonstrations (DQfD): DQN with demonstrations in every replayed batch and,
optionally, the large-margin loss on them."""

from jaxrl.agents.dqfd.config import Config, HParams
from jaxrl.agents.dqfd.learning import make_agent, make_train, margin_loss
from jaxrl.agents.policy import make_policy

__all__ = ["Config", "HParams", "make_agent", "make_policy", "make_train", "margin_loss"]
