"""The test session's one persistent XLA compilation cache.

Many tests compile the same program: the chunked driver in a subprocess resumes the run its parent
compiled, the CLI and the fresh-process policy tests rebuild programs other tests built, and each
pytest worker compiles its own copy of shared fixtures. A cache directory made once per session,
before the workers start, and passed on through the environment (workers and subprocesses inherit
it) lets every later compilation of an identical program load the executable instead. A loaded
executable is the one XLA compiled, so results are bit for bit those of a fresh compile. Set
JAX_COMPILATION_CACHE_DIR yourself to keep a cache across sessions.

The session also compiles with XLA:CPU's LLVM back end at -O2 (see below): compiling is about
half of the suite's time, and -O2 compiles 10-40% faster than the default -O3 at the same speed.

Beside the cache, a session directory (JAXRL_TEST_SHARED) for results that more than one test file
computes the same way, such as BC's reference scores on a dataset (tests/offline_data.py): the
first worker to need one stores it, the others load it.
"""

import os
import shutil
import tempfile

_CREATED = []
if "JAXRL_TEST_SHARED" not in os.environ:
    os.environ["JAXRL_TEST_SHARED"] = tempfile.mkdtemp(prefix="jaxrl-tests-shared-")
    _CREATED.append(os.environ["JAXRL_TEST_SHARED"])
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    # Set at import, before any test module imports jax, so that jax reads it from the environment.
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxrl-tests-xla-cache-")
    _CREATED.append(os.environ["JAX_COMPILATION_CACHE_DIR"])
    # Programs that take 0.3 s or more to compile; smaller ones are cheaper to recompile than to store.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")
# XLA:CPU's LLVM back end at -O2 instead of its default -O3: compilation is half the suite's time,
# and -O2 compiles the agents' programs 10-40% faster while they run as fast (PPO, DQN, TD3, SAC,
# R2D2, MPO, PQN, IMPALA, recurrent PPO, CQL: experiments/benchmarks/README.md). Bits may differ
# from -O3's in the last place (SAC's and IMPALA's did), as they do between CPUs; every bit-for-bit
# test compares programs compiled alike, and subprocesses inherit the flag. Set by the environment
# (before any test module imports jax), so a level given in XLA_FLAGS is kept; not on a machine
# with an accelerator, whose back end the flag would set too.
_ACCELERATOR = (os.environ.get("JAX_PLATFORMS", "cpu").split(",")[0] not in ("", "cpu")
                or any(os.path.exists(device) for device in ("/dev/nvidiactl", "/dev/kfd", "/dev/accel0")))
if not _ACCELERATOR and "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=2".strip()


def pytest_unconfigure(config):
    for path in _CREATED:
        shutil.rmtree(path, ignore_errors=True)
