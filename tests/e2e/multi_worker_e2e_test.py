"""End to end: IEG on two worker processes (MultiWorkerMirrored, TF_CONFIG).

Two `ieg_tf.main` processes form a cluster on 127.0.0.1 (ports picked here),
train IEG for a few steps on digits with the tiny network and stop. Checked:
the chief alone writes checkpoints and metrics; the non-chief's scratch
checkpoint directory is gone afterwards; both workers end with bit-identical
state (model, momentum, EMA), compared through the chief's real checkpoint
and a copy of the state each worker writes right after its `save`.

The copy comes from a test-side observer: each worker runs
`ieg_tf.main.run()` under `python -c` with `Checkpointer.save` wrapped to
also `write` the same `tf.train.Checkpoint` to a per-worker directory. Nothing else differs from `python -m ieg_tf.main`; production code
has no test hook.

Hangs cannot block CI: each worker has a deadline and both process groups
are killed on any failure. The test skips (saying why) only when the sandbox
forbids loopback TCP sockets.
"""

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import tensorflow as tf

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner

_DEADLINE_S = 300
_STEPS = 2
_FLAGS = (
  *cli_runner.NO_PIPELINE,
  '--strategy=multi_worker',
  '--method=ieg',
  '--dataset=digits_uniform_0.8',
  '--network_name=tiny',
  '--batch_size=16',
  '--probe_per_class=5',
  '--aug_type=weak',
  f'--train_steps={_STEPS}',
  f'--steps_per_loop={_STEPS}',
  f'--log_every_steps={_STEPS}',
  f'--eval_every_steps={_STEPS}',
)

# Runs the real main; only observes the checkpointed objects (see docstring).
_WORKER = """
import os
import tensorflow as tf
from ieg_tf.runtime import checkpoints

_save = checkpoints.Checkpointer.save


def save(self, step, *args, **kwargs):
  path = _save(self, step, *args, **kwargs)
  # The very tf.train.Checkpoint the Checkpointer saves, so keys match.
  (checkpoint,) = [
    v for v in vars(self).values() if isinstance(v, tf.train.Checkpoint)
  ]
  checkpoint.write(
    os.path.join(os.environ['IEG_TF_TEST_STATE_DIR'], f'state-{int(step)}')
  )
  return path


checkpoints.Checkpointer.save = save
from ieg_tf import main

main.run()
"""


def _loopback_ports(count: int) -> list:
  """Free 127.0.0.1 ports; raises OSError when loopback TCP is forbidden."""
  socks = []
  try:
    for _ in range(count):
      s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      s.bind(('127.0.0.1', 0))
      s.listen(1)
      socks.append(s)
    # A real connection, not just a bind: some sandboxes allow only that.
    with socket.create_connection(socks[0].getsockname(), timeout=5):
      pass
    return [s.getsockname()[1] for s in socks]
  finally:
    for s in socks:
      s.close()


def _kill_group(proc: subprocess.Popen):
  if proc.poll() is None:
    try:
      os.killpg(proc.pid, signal.SIGKILL)  # the worker's own session
    except ProcessLookupError:
      pass
  proc.wait()


def _tensors(path: str) -> dict:
  """All saved values of a checkpoint except its own bookkeeping."""
  reader = tf.train.load_checkpoint(path)
  return {
    key: reader.get_tensor(key)
    for key in reader.get_variable_to_shape_map()
    if key != '_CHECKPOINTABLE_OBJECT_GRAPH' and 'save_counter' not in key
  }


class MultiWorkerE2ETest(tf.test.TestCase):
  def _start_workers(self, root: str, ports: list) -> list:
    cluster = {'worker': [f'127.0.0.1:{p}' for p in ports]}
    procs = []
    for index in range(2):
      env = dict(os.environ)
      env.update(
        TF_CONFIG=json.dumps(
          {'cluster': cluster, 'task': {'type': 'worker', 'index': index}}
        ),
        IEG_TF_TEST_STATE_DIR=os.path.join(root, f'state{index}'),
        # The non-chief's scratch checkpoint directory lands here.
        TMPDIR=os.path.join(root, f'tmp{index}'),
        TF_CPP_MIN_LOG_LEVEL='2',
        PYTHONPATH=cli_runner.REPO_ROOT
        + os.pathsep
        + env.get('PYTHONPATH', ''),
      )
      os.makedirs(env['TMPDIR'])
      argv = [
        sys.executable,
        '-c',
        _WORKER,
        *_FLAGS,
        f'--workdir={os.path.join(root, f"work{index}")}',
      ]
      out = open(os.path.join(root, f'log{index}.txt'), 'w+')
      self.addCleanup(out.close)
      procs.append(
        (
          subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cli_runner.REPO_ROOT,
            start_new_session=True,  # one process group to kill
          ),
          out,
        )
      )
      self.addCleanup(_kill_group, procs[-1][0])
    return procs

  def _wait(self, procs) -> list:
    """Each worker's (returncode, log); kills both on timeout or failure."""
    deadline = time.monotonic() + _DEADLINE_S
    codes = [None, None]
    while time.monotonic() < deadline and None in codes:
      codes = [p.poll() for p, _ in procs]
      if any(c not in (None, 0) for c in codes):
        break  # One died: the other would wait for it forever.
      time.sleep(0.5)
    logs = []
    for proc, out in procs:
      _kill_group(proc)
      out.seek(0)
      logs.append(out.read())
    for index, (code, log) in enumerate(zip(codes, logs)):
      self.assertEqual(
        code,
        0,
        f'worker {index} '
        + ('timed out' if code is None else f'exited {code}')
        + f'; its output ends:\n{log[-3000:]}',
      )
    return logs

  def test_two_workers_train_ieg_identically(self):
    root = self.create_tempdir().full_path
    try:
      ports = _loopback_ports(2)
    except OSError as e:
      self.skipTest(f'loopback TCP sockets are not allowed here: {e}')
    logs = self._wait(self._start_workers(root, ports))

    finals = [
      [line for line in log.splitlines() if line.startswith('final:')]
      for log in logs
    ]
    self.assertLen(finals[0], 1, logs[0][-2000:])
    self.assertIn(f'final: step={_STEPS} method=ieg', finals[0][0])
    self.assertEqual(finals[0], finals[1])

    # Only the chief writes the run's files.
    chief, other = (os.path.join(root, f'work{i}') for i in range(2))
    chief_ckpt = tf.train.latest_checkpoint(os.path.join(chief, 'checkpoints'))
    self.assertIsNotNone(chief_ckpt)
    self.assertTrue(chief_ckpt.endswith(f'ckpt-{_STEPS}'), chief_ckpt)
    rows = summaries.read_metrics(chief)
    self.assertIn('loss/meta', rows[0])
    self.assertEqual(rows[-1]['step'], _STEPS)
    self.assertFalse(os.path.exists(os.path.join(other, 'checkpoints')))
    self.assertEmpty(summaries.read_metrics(other))
    # Its scratch checkpoint directory (under its TMPDIR) is gone again.
    self.assertEmpty(
      glob.glob(os.path.join(root, 'tmp1', '**', 'ckpt-*'), recursive=True)
    )

    # Bit-identical state on both workers, and equal to what the chief saved.
    saved = _tensors(chief_ckpt)
    copies = [
      _tensors(os.path.join(root, f'state{i}', f'state-{_STEPS}'))
      for i in range(2)
    ]
    self.assertGreater(len(saved), 10)
    self.assertTrue(any('ema' in k for k in saved), sorted(saved)[:20])
    self.assertTrue(any('optimizer' in k for k in saved), sorted(saved)[:20])
    for copy in copies:
      self.assertCountEqual(saved.keys(), copy.keys())
      for key, value in saved.items():
        self.assertAllEqual(value, copy[key], msg=key)


if __name__ == '__main__':
  tf.test.main()
