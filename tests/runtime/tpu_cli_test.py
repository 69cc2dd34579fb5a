"""`python -m ieg_tf.main --strategy=tpu` without a TPU: exit 2, one line, fast.

Each way a TPU can be missing is run as the real command: no --tpu on a
machine without one, --tpu=local without accelerator devices, a closed
grpc:// port, a live TensorFlow gRPC server that has no TPU, and a machine
whose device files look like a TPU VM's but whose TensorFlow finds none.
None may hang, show a traceback, or take more than a few seconds after
TensorFlow has been imported.
"""

import os
import select
import signal
import socket
import subprocess
import sys
import time

import tensorflow as tf

from tests.e2e import cli_runner

# About 5 s on a quiet machine (TensorFlow import + the failure); the
# margin is for a loaded CI machine. A hang would never end.
_LIMIT_S = 60
_SERVER = """
import sys, time
import tensorflow as tf
port = int(sys.argv[1])
cluster = tf.train.ClusterSpec({'worker': [f'127.0.0.1:{port}']})
server = tf.distribute.Server(cluster, job_name='worker', task_index=0)
print('ready', flush=True)
time.sleep(120)
"""
_FAKE_TPU_VM = """
from ieg_tf.runtime import strategy
strategy.local_tpu_present = lambda: True  # /dev/accel* as on a TPU VM
from ieg_tf import main
main.run()
"""


def _env() -> dict:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  env['PYTHONPATH'] = (
    cli_runner.REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  )
  return env


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


class _Command:
  """One `ieg_tf.main --strategy=tpu` process, started at once.

  Output goes to files, so a chatty process never blocks on a full pipe
  while the test waits for another one.
  """

  def __init__(self, argv: list, workdir: str):
    self._paths = [os.path.join(workdir, n) for n in ('out.txt', 'err.txt')]
    files = [open(p, 'w') for p in self._paths]
    self.start = time.monotonic()
    self.proc = subprocess.Popen(
      [*argv, '--strategy=tpu', f'--workdir={workdir}'],
      stdout=files[0],
      stderr=files[1],
      env=_env(),
      cwd=cli_runner.REPO_ROOT,
      start_new_session=True,
    )
    for f in files:
      f.close()  # the child has its own copies

  def finish(self, timeout: float):
    """(returncode or None if killed, stdout, stderr, seconds)."""
    try:
      code = self.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
      self.kill()
      code = None
    elapsed = time.monotonic() - self.start
    texts = []
    for path in self._paths:
      with open(path) as f:
        texts.append(f.read())
    return code, texts[0], texts[1], elapsed

  def kill(self):
    if self.proc.poll() is None:
      os.killpg(self.proc.pid, signal.SIGKILL)
    self.proc.wait()


def _main(*flags) -> list:
  return [sys.executable, '-m', 'ieg_tf.main', *flags]


class TpuCommandLineTest(tf.test.TestCase):
  def _check(self, command: _Command, message: str):
    code, out, err, elapsed = command.finish(timeout=120)
    self.assertIsNotNone(code, f'hung; stderr ends:\n{err[-2000:]}')
    self.assertEqual(code, 2, err[-3000:])
    errors = [line for line in err.splitlines() if 'ieg_tf: error:' in line]
    self.assertLen(errors, 1, err[-3000:])
    self.assertTrue(errors[0].startswith('ieg_tf: error: '), errors[0])
    self.assertRegex(errors[0], message)
    self.assertNotIn('Traceback', err)
    self.assertNotIn('IndexError', err)
    self.assertNotIn('final:', out)
    self.assertLess(elapsed, _LIMIT_S, errors[0])

  def test_every_missing_tpu_exits_2_with_one_line(self):
    # The commands run side by side: each costs a TensorFlow import.
    server_port = closed_port = _free_port()
    while closed_port == server_port:
      closed_port = _free_port()
    server = subprocess.Popen(
      [sys.executable, '-c', _SERVER, str(server_port)],
      stdout=subprocess.PIPE,
      stderr=subprocess.DEVNULL,
      text=True,
      env=_env(),
      start_new_session=True,
    )

    def stop_server():
      if server.poll() is None:
        os.killpg(server.pid, signal.SIGKILL)
      server.wait()
      server.stdout.close()

    self.addCleanup(stop_server)
    cases = {
      'no --tpu, no TPU here': (_main(), 'found no TPU on this machine'),
      '--tpu=local, no devices': (
        _main('--tpu=local'),
        '--tpu=local but this machine has no TPU',
      ),
      'closed grpc port': (
        _main(f'--tpu=grpc://127.0.0.1:{closed_port}'),
        f'no TPU at 127.0.0.1:{closed_port}',
      ),
      'TPU VM device files, no TPU in TensorFlow': (
        [sys.executable, '-c', _FAKE_TPU_VM, '--tpu=local'],
        "cannot initialize TPU 'local'",
      ),
    }
    commands = {}
    for name, (argv, _) in cases.items():
      commands[name] = _Command(argv, self.create_tempdir().full_path)
      self.addCleanup(commands[name].kill)
    # A live TensorFlow gRPC server without TPU (bounded wait for it).
    readable, _, _ = select.select([server.stdout], [], [], 90)
    ready = server.stdout.readline().strip() if readable else ''
    self.assertEqual(ready, 'ready', 'the TensorFlow gRPC server did not start')
    name = 'live gRPC server without TPU'
    cases[name] = (None, "cannot initialize TPU 'grpc://127.0.0.1:.*TPU")
    commands[name] = _Command(
      _main(f'--tpu=grpc://127.0.0.1:{server_port}'),
      self.create_tempdir().full_path,
    )
    self.addCleanup(commands[name].kill)
    for name, command in commands.items():
      with self.subTest(name):
        self._check(command, cases[name][1])


if __name__ == '__main__':
  tf.test.main()
