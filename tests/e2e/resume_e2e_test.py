"""End to end: SIGKILL at a random step, restart, same result as no kill.

Two `python -m ieg_tf.main --deterministic` runs on digits: one runs through;
the other is killed with SIGKILL at a random moment after its first
checkpoint and restarted with the same command. The final checkpoints must
hold exactly the same values and metrics.jsonl the same eval (and train)
lines, with no line repeated for the steps redone after the kill.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import tensorflow as tf

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner

_STEPS = 60
_FLAGS = (
  *cli_runner.NO_PIPELINE,
  '--deterministic',
  '--method=supervised',
  '--batch_size=16',
  f'--train_steps={_STEPS}',
  '--steps_per_loop=5',
  '--log_every_steps=5',
  '--eval_every_steps=20',
  '--checkpoint_every_steps=10',
  '--keep_checkpoints=2',
)
# Wall-clock values legitimately differ between runs.
_TIMING_KEYS = ('train/steps_per_sec', 'train/images_per_sec')
# Differs by construction: how many times each run called save().
_SAVE_COUNTER = 'save_counter/.ATTRIBUTES/VARIABLE_VALUE'


def _popen(workdir):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  env['PYTHONPATH'] = (
    cli_runner.REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  )
  return subprocess.Popen(
    [sys.executable, '-m', 'ieg_tf.main', f'--workdir={workdir}', *_FLAGS],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.PIPE,
    text=True,
    env=env,
    cwd=cli_runner.REPO_ROOT,
  )


def _steps_logged(workdir):
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return []
  steps = []
  with open(path) as f:
    for line in f:
      try:
        steps.append(json.loads(line)['step'])
      except ValueError:
        pass  # a line being written
  return steps


def _checkpoint_values(workdir, step):
  reader = tf.train.load_checkpoint(
    os.path.join(workdir, 'checkpoints', f'ckpt-{step}')
  )
  names = [n for n in reader.get_variable_to_shape_map() if n != _SAVE_COUNTER]
  return {n: reader.get_tensor(n) for n in names}


class ResumeTest(tf.test.TestCase):
  def test_sigkill_and_restart_matches_an_uninterrupted_run(self):
    rng = random.Random()
    # A step whose train line appears after the first checkpoint (10) and
    # well before the end; the kill then lands shortly after it.
    target = rng.choice(range(15, _STEPS - 10, 5))
    delay = rng.uniform(0.0, 0.2)
    clean = self.create_tempdir('clean').full_path
    killed = self.create_tempdir('killed').full_path

    results = {}
    thread = threading.Thread(
      target=lambda: results.update(
        clean=cli_runner.run_main(f'--workdir={clean}', *_FLAGS)
      )
    )
    thread.start()

    # On an idle machine the last steps can finish inside the kill's
    # latency; then retry from scratch, killing earlier (the product is not
    # at fault, the kill just missed).
    for attempt in range(3):
      if attempt:
        killed = self.create_tempdir(f'killed{attempt}').full_path
        target, delay = 15, 0.0
      before, _ = self._kill_after(killed, target, delay)
      if max(before, default=0) < _STEPS:
        break
    self.assertLess(max(before), _STEPS, 'every run ended before the kill')
    self.assertNotEmpty(
      tf.io.gfile.glob(os.path.join(killed, 'checkpoints', 'ckpt-*.index'))
    )

    resumed = cli_runner.run_main(f'--workdir={killed}', *_FLAGS)
    self.assertEqual(resumed.returncode, 0, resumed.stderr[-3000:])
    thread.join()
    self.assertEqual(
      results['clean'].returncode, 0, results['clean'].stderr[-3000:]
    )

    want = _checkpoint_values(clean, _STEPS)
    got = _checkpoint_values(killed, _STEPS)
    self.assertSameElements(want, got)
    for name in want:
      np.testing.assert_array_equal(
        got[name], want[name], err_msg=f'{name} (killed at step {target})'
      )

    def lines(workdir):
      rows = summaries.read_metrics(workdir)
      for r in rows:
        for k in _TIMING_KEYS:
          r.pop(k, None)
      return rows

    want_rows, got_rows = lines(clean), lines(killed)
    train_steps = [r['step'] for r in got_rows if 'loss/total' in r]
    self.assertEqual(train_steps, list(range(5, _STEPS + 1, 5)))
    self.assertEqual(
      [r for r in got_rows if 'eval/top1' in r],
      [r for r in want_rows if 'eval/top1' in r],
    )
    self.assertEqual(got_rows, want_rows, f'killed after step {target}')

  def _kill_after(self, workdir, target, delay):
    """Starts a run, SIGKILLs it once step `target` is logged (+ delay s).

    Returns:
      (steps logged before the kill, stderr).
    """
    proc = _popen(workdir)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
      if max(_steps_logged(workdir), default=0) >= target:
        break
      time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:  # it finished before the signal arrived
      return _steps_logged(workdir), err
    self.assertEqual(
      proc.returncode, -signal.SIGKILL, f'target {target}: {err[-2000:]}'
    )
    return _steps_logged(workdir), err


if __name__ == '__main__':
  tf.test.main()
