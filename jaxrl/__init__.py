"""jaxrl: reinforcement learning as pure, compiled JAX programs."""

from jaxrl import optim, prng, types
from jaxrl.envs import make, register

__version__ = "0.1.0"
__all__ = ["make", "optim", "prng", "register", "types"]
