"""jaxrl: reinforcement learning as pure, compiled JAX programs."""

import os as _os

# XLA:CPU flags jaxrl needs, set before JAX starts its CPU backend (if the user has not set
# them): with the concurrency-optimized HLO scheduler, jax 0.10's CPU runtime deadlocks on our
# vmapped PPO program (4 seeds x 976 iterations: every thread parked, `block_until_ready` never
# returns; 9 of 9 runs hung, 0 of 3 with the flag). Set JAXRL_KEEP_XLA_FLAGS=1 to opt out.
_XLA_FLAGS = {"xla_cpu_enable_concurrency_optimized_scheduler": "false"}


def _set_xla_flags() -> None:
    if _os.environ.get("JAXRL_KEEP_XLA_FLAGS") == "1":
        return
    flags = _os.environ.get("XLA_FLAGS", "")
    extra = [f"--{k}={v}" for k, v in _XLA_FLAGS.items() if k not in flags]
    if extra:
        _os.environ["XLA_FLAGS"] = " ".join([flags, *extra]).strip()


_set_xla_flags()

from jaxrl import types  # noqa: E402
from jaxrl.envs import make, register  # noqa: E402

__version__ = "0.1.0"
__all__ = ["make", "register", "types"]
