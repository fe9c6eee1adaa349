"""jaxrl: reinforcement learning as pure, compiled JAX programs."""

from jaxrl import optim, prng, tricks, types
from jaxrl.envs import make, register
from jaxrl.tricks import cpu_tricks, set_cpu_tricks

__version__ = "0.1.0"
__all__ = ["cpu_tricks", "make", "optim", "prng", "register", "set_cpu_tricks", "tricks", "types"]
