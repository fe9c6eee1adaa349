"""Where a test run's time goes: JAX's tracing, lowering and XLA compiling, per test.

A pytest plugin that listens to `jax.monitoring`'s duration events (tracing a jaxpr, lowering it
to StableHLO, XLA's backend compile, persistent-cache hits) and writes, per pytest worker, the
seconds of each event per test file and of each compiled function per test:

    JAXRL_COMPILE_TIMES=/tmp/ct python -m pytest -p experiments.benchmarks.compile_times \\
        -n 2 --dist loadfile -m "not check" tests
    python -m experiments.benchmarks.compile_times /tmp/ct

The second command sums the workers' files and prints the totals, the files and tests that spend
the most in XLA, and the compiled functions (by name) that cost the most. Subprocesses that tests
start (the CLI, the distributed workers) compile outside it and are not counted.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import sys

import pytest

OUT_ENV = "JAXRL_COMPILE_TIMES"
BACKEND = "/jax/core/compile/backend_compile_duration"
LOWER = "/jax/core/compile/jaxpr_to_mlir_module_duration"
TRACE = "/jax/core/compile/jaxpr_trace_duration"

_by_file: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
_by_function: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
_current = {"test": "<collection>"}


def _listener(event: str, duration: float, **kwargs) -> None:
    test = _current["test"]
    per_file = _by_file[test.split("::")[0]]
    per_file[event] += duration
    per_file[event + "#count"] += 1
    if event == BACKEND and "fun_name" in kwargs:
        _by_function[str(kwargs["fun_name"])][test] += duration


def pytest_configure(config) -> None:
    import jax.monitoring

    jax.monitoring.register_event_duration_secs_listener(_listener)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current["test"] = item.nodeid
    yield


def pytest_unconfigure(config) -> None:
    out = os.environ.get(OUT_ENV)
    if not out:
        return
    os.makedirs(out, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(os.path.join(out, f"{worker}.json"), "w") as f:
        json.dump({"files": {k: dict(v) for k, v in _by_file.items()},
                   "functions": {k: dict(v) for k, v in _by_function.items()}}, f)


def summarize(directory: str, top: int = 15) -> str:
    """The workers' files in `directory`, summed, as a text report."""
    files: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    functions: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        with open(path) as f:
            data = json.load(f)
        for name, events in data["files"].items():
            files[name].update(events)
        for name, tests in data["functions"].items():
            functions[name].update(tests)
    total: collections.Counter = collections.Counter()
    for events in files.values():
        total.update(events)
    lines = [f"XLA backend compile {total[BACKEND]:.1f} s ({int(total[BACKEND + '#count'])} compiles), "
             f"lowering {total[LOWER]:.1f} s, tracing {total[TRACE]:.1f} s"]
    lines.append("\nfiles, XLA seconds:")
    for name, events in sorted(files.items(), key=lambda kv: -kv[1][BACKEND])[:top]:
        lines.append(f"  {events[BACKEND]:7.1f}  {int(events[BACKEND + '#count']):5d}  {name}")
    per_test: collections.Counter = collections.Counter()
    for tests in functions.values():
        per_test.update(tests)
    lines.append("\ntests, XLA seconds:")
    lines += [f"  {seconds:7.1f}  {test}" for test, seconds in per_test.most_common(top)]
    lines.append("\ncompiled functions, XLA seconds (tests):")
    ranked = sorted(functions.items(), key=lambda kv: -sum(kv[1].values()))[:top]
    lines += [f"  {sum(tests.values()):7.1f}  ({len(tests):3d})  {name}" for name, tests in ranked]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(sys.argv[1] if len(sys.argv) > 1 else os.environ.get(OUT_ENV, "compile_times")))
