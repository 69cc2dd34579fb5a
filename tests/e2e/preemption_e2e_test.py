"""End to end: SIGTERM mid-chunk -> checkpoint within seconds, exit 143."""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import tensorflow as tf

from ieg_tf.runtime import preemption
from tests.e2e import cli_runner

# One compiled chunk of 5000 steps takes far longer than the time allowed
# for the exit, so only the in-loop stop flag can meet the deadline.
_CHUNK = 5000
_FLAGS = (
  *cli_runner.NO_PIPELINE,
  '--method=supervised',
  '--batch_size=16',
  f'--train_steps={3 * _CHUNK}',
  f'--steps_per_loop={_CHUNK}',
  f'--log_every_steps={_CHUNK}',
  f'--eval_every_steps={_CHUNK}',
)
_EXIT_DEADLINE_S = 15.0


def _sigterm_after(workdir, marker, delay):
  """Starts main, sends SIGTERM `delay` s after stderr shows `marker`.

  Returns:
    (returncode, stdout, stderr, seconds from SIGTERM to exit).
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  env['PYTHONPATH'] = (
    cli_runner.REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
  )
  proc = subprocess.Popen(
    [sys.executable, '-m', 'ieg_tf.main', f'--workdir={workdir}', *_FLAGS],
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
    env=env,
    cwd=cli_runner.REPO_ROOT,
  )
  seen = []
  for line in proc.stderr:  # absl logs to stderr
    seen.append(line)
    if marker in line:
      break
  time.sleep(delay)
  sent = time.time()
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=300)
  return proc.returncode, out, ''.join(seen) + err, time.time() - sent


class PreemptionTest(tf.test.TestCase):
  def test_sigterm_saves_a_checkpoint_and_exits_143(self):
    workdir = self.create_tempdir().full_path
    early_dir = self.create_tempdir().full_path
    early = {}
    # In parallel: SIGTERM while the loop is being traced exits at once.
    thread = threading.Thread(
      target=lambda: early.update(
        r=_sigterm_after(early_dir, 'Train loop built', 0.0)
      )
    )
    thread.start()
    code, out, err, elapsed = _sigterm_after(
      workdir, 'Training steps 1..', random.uniform(1.0, 3.0)
    )
    thread.join()

    self.assertEqual(code, preemption.EXIT_PREEMPTED, err[-3000:])
    self.assertLess(elapsed, _EXIT_DEADLINE_S, err[-3000:])
    self.assertNotIn('Traceback', err)
    self.assertIn('ieg_tf: preempted (SIGTERM) at step', err)
    self.assertNotIn('final:', out)
    # The checkpoint holds the step the loop stopped at, inside the chunk.
    path = tf.train.latest_checkpoint(os.path.join(workdir, 'checkpoints'))
    self.assertIsNotNone(path, err[-3000:])
    step = int(path.rsplit('-', 1)[1])
    self.assertLess(step, _CHUNK)
    reader = tf.train.load_checkpoint(path)
    self.assertEqual(
      reader.get_tensor('optimizer/iterations/.ATTRIBUTES/VARIABLE_VALUE'),
      step,
    )
    self.assertIn(f'at step {step} of {3 * _CHUNK}', err)

    code, _, err, elapsed = early['r']
    self.assertEqual(code, preemption.EXIT_PREEMPTED, err[-3000:])
    self.assertLess(elapsed, _EXIT_DEADLINE_S, err[-3000:])
    self.assertIn('before the first training step', err)
    self.assertNotIn('Traceback', err)
    self.assertEmpty(
      tf.io.gfile.glob(os.path.join(early_dir, 'checkpoints', 'ckpt-*'))
    )


if __name__ == '__main__':
  tf.test.main()
