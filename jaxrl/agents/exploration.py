"""Epsilon-greedy exploration, shared by the value-based agents (DQN, PQN)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.types import Array, PRNGKey


def linear_epsilon(start: Array, end: Array, fraction: Array, total_timesteps: int, env_steps: Array) -> Array:
    """Linear decay from `start` to `end` over the first `fraction` of the run's `total_timesteps`
    env steps, then constant (Mnih et al. 2015 anneal over the first 1M frames)."""
    anneal_steps = fraction * total_timesteps
    progress = jnp.clip(env_steps.astype(jnp.float32) / anneal_steps, 0.0, 1.0)
    return start + progress * (end - start)


def epsilon_greedy(key: PRNGKey, greedy_action: Array, num_actions: int, epsilon: Array) -> Array:
    """`greedy_action` [B], each replaced with probability `epsilon` by a uniform random action."""
    explore_key, random_key = jax.random.split(key)
    explore = jax.random.uniform(explore_key, greedy_action.shape) < epsilon
    random_action = jax.random.randint(random_key, greedy_action.shape, 0, num_actions, jnp.int32)
    return jnp.where(explore, random_action, greedy_action)
