"""R2D2 (Kapturowski et al. 2019): recurrent Q-learning from prioritized sequence replay, with
stored core states, burn-in, n-step double-Q targets and value rescaling."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.r2d2.config import Config, HParams
from jaxrl.agents.r2d2.learning import (ActorState, AgentState, burn_in_state, episode_starts, make_adder, make_agent,
                                        make_buffer, make_train, n_step_targets, r2d2_loss)
from jaxrl.agents.r2d2.networks import RecurrentQNetwork, make_network

__all__ = ["ActorState", "AgentState", "Config", "HParams", "RecurrentQNetwork", "burn_in_state", "episode_starts",
           "make_adder", "make_agent", "make_buffer", "make_network", "make_policy", "make_train", "n_step_targets",
           "r2d2_loss"]
