"""Package-level behaviour: the XLA:CPU flag that keeps vmapped programs from deadlocking."""

import os
import subprocess
import sys

FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def _xla_flags_after_import(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAXRL_KEEP_XLA_FLAGS")}
    env.update(env_extra)
    code = "import os, jaxrl; print(os.environ.get('XLA_FLAGS', ''))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_adds_the_scheduler_flag_and_keeps_user_flags():
    assert _xla_flags_after_import({}) == FLAG
    flags = _xla_flags_after_import({"XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    assert flags == f"--xla_force_host_platform_device_count=4 {FLAG}"


def test_user_choice_wins():
    mine = "--xla_cpu_enable_concurrency_optimized_scheduler=true"
    assert _xla_flags_after_import({"XLA_FLAGS": mine}) == mine
    assert _xla_flags_after_import({"JAXRL_KEEP_XLA_FLAGS": "1"}) == ""
