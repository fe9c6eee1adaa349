"""Primal Wasserstein Imitation Learning (PWIL): rewards from a greedy coupling to demonstrations,
for SAC, TD3 or PPO."""

from jaxrl.agents.policy import make_policy
from jaxrl.agents.pwil.config import Config, PPOConfig, SACConfig, TD3Config, config
from jaxrl.agents.pwil.learning import ActorState, expert_atoms, make_acting_agent, make_agent, make_train, pairs

__all__ = ["ActorState", "Config", "PPOConfig", "SACConfig", "TD3Config", "config", "expert_atoms",
           "make_acting_agent", "make_agent", "make_policy", "make_train", "pairs"]
