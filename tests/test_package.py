"""Package-level behaviour: importing jaxrl leaves the process's XLA settings alone."""

import os
import subprocess
import sys


def _xla_flags_after_import(env_extra):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(env_extra)
    code = "import os, jaxrl; print(os.environ.get('XLA_FLAGS', '<unset>'))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_does_not_touch_xla_flags():
    # jaxrl once forced an XLA:CPU scheduler flag to dodge a deadlock; the deadlock's cause (a
    # batched LAPACK QR in the orthogonal init) is gone, and a library must not rewrite a
    # user's process-wide flags.
    assert _xla_flags_after_import({}) == "<unset>"
    mine = "--xla_force_host_platform_device_count=4"
    assert _xla_flags_after_import({"XLA_FLAGS": mine}) == mine
