"""Runs the launch scripts in tests and reads their dry runs (not a test file).

Shared by tests/runtime/tpu_launch_script_test.py and
multi_worker_launch_script_test.py.
"""

import os
import shlex
import subprocess

from absl import flags

from ieg_tf import options  # noqa: F401 - defines the flags checked below

_SCRIPT_VARS = (
  'WORKDIR',
  'DATA_DIR',
  'FLAGFILE',
  'TPU',
  'PYTHON',
  'LIBTPU_FIND_LINKS',
  'TF_CONFIG',
)


def run_script(script: str, *args, **env) -> subprocess.CompletedProcess:
  """Runs `bash script args` with `env` added; never touches the network.

  The variables the scripts read are cleared first, so the caller's shell
  cannot change what a test sees.
  """
  full_env = {k: v for k, v in os.environ.items() if k not in _SCRIPT_VARS}
  full_env.update(env)
  return subprocess.run(
    ['bash', script, *args],
    capture_output=True,
    text=True,
    timeout=60,
    env=full_env,
    cwd='/',
  )


def commands(stdout: str) -> list:
  """The '+ cmd args' lines of a dry run, split like the shell would."""
  return [
    shlex.split(line[2:])
    for line in stdout.splitlines()
    if line.startswith('+ ') and not line.startswith('+ export')
  ]


def unknown_flags(argv: list) -> list:
  """Flags in `argv` that ieg_tf.main does not define."""
  names = [a[2:].split('=')[0] for a in argv if a.startswith('--')]
  return [n for n in names if n not in flags.FLAGS and n != 'flagfile']
