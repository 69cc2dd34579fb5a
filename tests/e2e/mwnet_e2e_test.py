"""End to end: `python -m ieg_tf.main --method=mwnet` on digits, read back."""

import os

import tensorflow as tf

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner

_FAST = (
  '--method=mwnet',
  '--batch_size=32',
  '--steps_per_loop=10',
  '--log_every_steps=10',
  '--eval_every_steps=20',
  '--mwnet_hidden_units=16',
)


class MwnetDigitsTest(tf.test.TestCase):
  def _run(self, *flags):
    proc = cli_runner.run_main(*flags)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    return proc

  def test_train_writes_mwnet_metrics_and_checkpoints_the_mlp(self):
    workdir = self.create_tempdir().full_path
    proc = self._run(f'--workdir={workdir}', '--train_steps=20', *_FAST)
    self.assertIn('final: step=20 method=mwnet', proc.stdout)
    rows = summaries.read_metrics(workdir)
    evals = [r for r in rows if 'eval/top1' in r]
    self.assertEqual([r['step'] for r in evals], [20])
    self.assertBetween(evals[0]['eval/top1'], 0.0, 1.0)
    train = [r for r in rows if 'loss/total' in r]
    self.assertEqual([r['step'] for r in train], [10, 20])
    for r in train:
      for key in (
        'loss/weighted_ce',
        'loss/meta',
        'acc/meta',
        'mwnet/raw_weight_mean',
        'weights/clean_mean',
        'weights/noisy_mean',
      ):
        self.assertIn(key, r)
      # Scaled weights average 1; the MLP's sigmoid never gives 0.
      self.assertAllClose(r['weights/mean'], 1.0, atol=1e-4)
      self.assertEqual(r['weights/zero_fraction'], 0.0)
      self.assertBetween(r['mwnet/raw_weight_mean'], 0.0, 1.0)
      self.assertBetween(r['acc/meta'], 0.0, 1.0)
    # The MLP and its momentum are part of the checkpoint.
    ckpt = tf.train.latest_checkpoint(os.path.join(workdir, 'checkpoints'))
    names = [n for n, _ in tf.train.list_variables(ckpt)]
    self.assertLen([n for n in names if n.startswith('extra_variables/')], 4)
    self.assertNotEmpty([n for n in names if n.startswith('extra_optimizer/')])
    mlp_before = [
      tf.train.load_variable(
        ckpt, f'extra_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE'
      )
      for i in range(4)
    ]

    # Resuming continues the MLP from the checkpoint (it keeps learning).
    self._run(f'--workdir={workdir}', '--train_steps=30', *_FAST)
    ckpt = tf.train.latest_checkpoint(os.path.join(workdir, 'checkpoints'))
    self.assertEndsWith(ckpt, 'ckpt-30')
    mlp_after = [
      tf.train.load_variable(
        ckpt, f'extra_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE'
      )
      for i in range(4)
    ]
    self.assertNotAllClose(mlp_before[0], mlp_after[0])
    self.assertEqual(
      max(r['step'] for r in summaries.read_metrics(workdir)), 30
    )


if __name__ == '__main__':
  tf.test.main()
