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

Files run longest first. `make test` hands whole files to two workers (`--dist loadfile`); by
default pytest-xdist queues the files with the most tests first, which can put a long learning
file (with few tests) last, one worker running it alone while the other idles. Here the collection
is ordered by each file's measured seconds (tests/file_seconds.json; `make test` passes
`--no-loadscope-reorder` so that xdist keeps this order): the longest files start first and the
short ones fill the end, so both workers finish together (within 2 s of each other here, against
7 s with xdist's order in the run before). `JAXRL_TEST_FILE_SECONDS=1 make test` rewrites the
table from the run's own durations (setup, call and teardown of each test, summed per file).

Beside the cache, a session directory (JAXRL_TEST_SHARED) for results that more than one test file
computes the same way, such as BC's reference scores on a dataset (tests/offline_data.py): the
first worker to need one stores it, the others load it.
"""

import collections
import json
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
# On an accelerator, f32 matmuls at full precision. The tests compare values with references other
# programs compute (flax's modules, rlax, hand formulas) at f32 tolerances (1e-5 and tighter); a
# GPU's default for f32 matmuls is TF32 on Ampere and later (10-bit mantissas in), which misses
# them by ~1e-3 and so tests TF32, not jaxrl. Training at the default precision is what the
# benchmarks measure (experiments/benchmarks/accelerator.py). JAX_DEFAULT_MATMUL_PRECISION=default
# runs the suite at the default instead. CPUs compute f32 matmuls in f32 either way.
if _ACCELERATOR:
    os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
FILE_SECONDS = os.path.join(os.path.dirname(__file__), "file_seconds.json")


def _file_seconds() -> dict[str, float]:
    try:
        with open(FILE_SECONDS) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def _test_file(nodeid: str) -> str:
    return nodeid.split("::")[0]


def pytest_collection_modifyitems(config, items):
    """Longest files first (the module docstring says why); a file not in the table yet counts as
    a minute. The sort is stable, so tests keep their order within a file."""
    seconds = _file_seconds()
    items.sort(key=lambda item: -seconds.get(_test_file(item.nodeid), 60.0))


# Durations are summed only when the table is to be rewritten, and only where the table is written:
# in the controller, which receives both workers' reports (or in a run without workers).
_RECORD = bool(os.environ.get("JAXRL_TEST_FILE_SECONDS")) and not os.environ.get("PYTEST_XDIST_WORKER")
_MEASURED: collections.Counter = collections.Counter()


def pytest_runtest_logreport(report):
    if _RECORD:
        _MEASURED[_test_file(report.nodeid)] += report.duration


def pytest_sessionfinish(session, exitstatus):
    if _MEASURED:
        table = {**_file_seconds(), **{path: round(s, 1) for path, s in _MEASURED.items()}}
        with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(FILE_SECONDS), delete=False) as f:
            json.dump(dict(sorted(table.items(), key=lambda kv: -kv[1])), f, indent=1)
            f.write("\n")
        os.replace(f.name, FILE_SECONDS)


def pytest_unconfigure(config):
    for path in _CREATED:
        shutil.rmtree(path, ignore_errors=True)
