"""Recurrent PPO: PPO with an LSTM or GRU core, trained on whole env sequences (PureJaxRL's ppo_rnn layout)."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.recurrent_ppo.config import Config, HParams
from jaxrl.agents.recurrent_ppo.learning import (
    ActorState,
    Sequences,
    burn_in_windows,
    episode_starts,
    make_agent,
    make_train,
    to_sequences,
)
from jaxrl.agents.recurrent_ppo.networks import RecurrentActorCritic, make_network

__all__ = ["ActorState", "Config", "HParams", "RecurrentActorCritic", "Sequences", "burn_in_windows",
           "episode_starts", "make_agent", "make_network", "make_policy", "make_train", "to_sequences"]
