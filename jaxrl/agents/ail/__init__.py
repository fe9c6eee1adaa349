"""Adversarial imitation learning (AIL, DAC-style): a discriminator's rewards for SAC or TD3 (`direct_rl`)."""

from jaxrl.agents.ail.config import Config, SACConfig, TD3Config, config
from jaxrl.agents.ail.learning import AgentState, discriminator_inputs, make_agent, make_train
from jaxrl.agents.ail.networks import Discriminator
from jaxrl.agents.policy import make_policy

__all__ = ["AgentState", "Config", "Discriminator", "SACConfig", "TD3Config", "config", "discriminator_inputs",
           "make_agent", "make_policy", "make_train"]
