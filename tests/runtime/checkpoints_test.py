"""Checkpointer: fallback past corrupt checkpoints, NaN guard, clear errors."""

import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.errors import UserError
from ieg_tf.runtime import checkpoints


def _saved(workdir, steps=(1, 2, 3)):
  """Saves one checkpoint per step; the variable holds the step number."""
  var = tf.Variable(np.zeros(1000, np.float32))
  ckpt = checkpoints.Checkpointer(workdir, max_to_keep=5, guard=[var], v=var)
  for step in steps:
    var.assign(np.full(1000, step, np.float32))
    ckpt.save(step)
  return var, ckpt


def _fresh(workdir, **extra):
  var = tf.Variable(np.zeros(1000, np.float32))
  return var, checkpoints.Checkpointer(workdir, v=var, **extra)


def _truncate(path):
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)


class CheckpointerTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters('data-00000-of-00001', 'index')
  def test_truncated_newest_falls_back_with_a_warning(self, part):
    workdir = self.create_tempdir().full_path
    _saved(workdir)
    _truncate(os.path.join(workdir, 'checkpoints', f'ckpt-3.{part}'))
    var, ckpt = _fresh(workdir)
    with self.assertLogs('absl', 'WARNING') as logs:
      path = ckpt.restore_latest()
    self.assertEndsWith(path, 'ckpt-2')
    self.assertAllEqual(var.numpy(), np.full(1000, 2.0))
    self.assertTrue(any('ckpt-3 cannot be restored' in m for m in logs.output))

  def test_two_corrupt_checkpoints_fall_back_twice(self):
    workdir = self.create_tempdir().full_path
    _saved(workdir)
    for step in (2, 3):
      _truncate(
        os.path.join(workdir, 'checkpoints', f'ckpt-{step}.data-00000-of-00001')
      )
    var, ckpt = _fresh(workdir)
    self.assertEndsWith(ckpt.restore_latest(), 'ckpt-1')
    self.assertAllEqual(var.numpy(), np.full(1000, 1.0))

  def test_all_corrupt_is_a_clear_user_error_and_deletes_nothing(self):
    workdir = self.create_tempdir().full_path
    _saved(workdir, steps=(5,))
    directory = os.path.join(workdir, 'checkpoints')
    _truncate(os.path.join(directory, 'ckpt-5.data-00000-of-00001'))
    before = sorted(os.listdir(directory))
    _, ckpt = _fresh(workdir)
    with self.assertRaisesRegex(
      UserError, r'none of the 1 checkpoint\(s\) in .* can be restored'
    ):
      ckpt.restore_latest()
    self.assertEqual(sorted(os.listdir(directory)), before)

  def test_broken_state_file_still_finds_the_newest_checkpoint(self):
    workdir = self.create_tempdir().full_path
    _saved(workdir)
    with open(os.path.join(workdir, 'checkpoints', 'checkpoint'), 'w') as f:
      f.write('model_checkpoint_path: "ckpt-')  # torn write
    var, ckpt = _fresh(workdir)
    self.assertEndsWith(ckpt.restore_latest(), 'ckpt-3')
    self.assertAllEqual(var.numpy(), np.full(1000, 3.0))

  def test_other_model_is_a_configuration_error(self):
    workdir = self.create_tempdir().full_path
    _saved(workdir, steps=(1,))
    other = checkpoints.Checkpointer(
      workdir, v=tf.Variable(np.zeros(1000, np.float32)), w=tf.Variable(1.0)
    )
    with self.assertRaisesRegex(UserError, 'do not match this model'):
      other.restore_latest()

  def test_required_subset_restores_with_other_extras(self):
    # --mode=eval with other method flags: other tables, same weights.
    workdir = self.create_tempdir().full_path
    _saved(workdir, steps=(4,))
    var = tf.Variable(np.zeros(1000, np.float32))
    table = tf.Variable([1.0, 2.0])
    ckpt = checkpoints.Checkpointer(workdir, v=var, table=table)
    self.assertEndsWith(ckpt.restore_latest(required=('v',)), 'ckpt-4')
    self.assertAllEqual(var.numpy(), np.full(1000, 4.0))
    self.assertAllEqual(table.numpy(), [1.0, 2.0])
    with self.assertRaisesRegex(UserError, 'do not match this model'):
      ckpt.restore_latest()

  def test_fresh_start_returns_none(self):
    _, ckpt = _fresh(self.create_tempdir().full_path)
    self.assertIsNone(ckpt.restore_latest())
    self.assertIsNone(ckpt.latest)

  def test_save_refuses_non_finite_weights(self):
    workdir = self.create_tempdir().full_path
    var, ckpt = _saved(workdir, steps=(1,))
    var.assign(np.full(1000, np.nan, np.float32))
    with self.assertRaisesRegex(UserError, 'non-finite weights at step 2'):
      ckpt.save(2)
    self.assertEqual(
      [os.path.basename(p) for p in ckpt.candidates()], ['ckpt-1']
    )


if __name__ == '__main__':
  tf.test.main()
