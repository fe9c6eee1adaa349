"""The test session's one persistent XLA compilation cache.

Many tests compile the same program: the chunked driver in a subprocess resumes the run its parent
compiled, the CLI and the fresh-process policy tests rebuild programs other tests built, and each
pytest worker compiles its own copy of shared fixtures. A cache directory made once per session,
before the workers start, and passed on through the environment (workers and subprocesses inherit
it) lets every later compilation of an identical program load the executable instead. A loaded
executable is the one XLA compiled, so results are bit for bit those of a fresh compile. Set
JAX_COMPILATION_CACHE_DIR yourself to keep a cache across sessions.
"""

import os
import shutil
import tempfile

_CREATED = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    # Set at import, before any test module imports jax, so that jax reads it from the environment.
    _CREATED = tempfile.mkdtemp(prefix="jaxrl-tests-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CREATED
    # Programs that take 0.3 s or more to compile; smaller ones are cheaper to recompile than to store.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")


def pytest_unconfigure(config):
    if _CREATED is not None:
        shutil.rmtree(_CREATED, ignore_errors=True)
