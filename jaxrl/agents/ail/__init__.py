"""Adversarial imitation learning (AIL, DAC-style): a discriminator's rewards for SAC, TD3 or PPO (GAIL)."""

from jaxrl.agents.ail.config import Config, PPOConfig, SACConfig, TD3Config, config
from jaxrl.agents.ail.learning import AgentState, discriminator_inputs, make_agent, make_train
from jaxrl.agents.ail.networks import Discriminator
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "Discriminator", "PPOConfig", "SACConfig", "TD3Config", "config",
           "discriminator_inputs", "make_agent", "make_policy", "make_train"]
