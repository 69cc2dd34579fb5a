"""End to end: `python -m ieg_tf.main --recipe=reference` on digits."""

import os

import tensorflow as tf

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner

_FAST = (
  '--batch_size=32',
  '--train_steps=20',
  '--steps_per_loop=10',
  '--log_every_steps=10',
  '--eval_every_steps=20',
)


class RecipesE2eTest(tf.test.TestCase):
  def _train_rows(self, *flags):
    workdir = self.create_tempdir().full_path
    # pipeline=True: the recipe itself must turn the contrastive stage off.
    proc = cli_runner.run_main(
      f'--workdir={workdir}', *_FAST, *flags, pipeline=True
    )
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    self.assertIn('stage pretrain: off', proc.stdout)
    self.assertIn('method=ieg', proc.stdout)
    with open(os.path.join(workdir, 'flags.cfg')) as f:
      self.assertIn('--recipe=reference', f.read())
    return [r for r in summaries.read_metrics(workdir) if 'loss/xemin' in r]

  def test_reference_runs_the_papers_step(self):
    rows = self._train_rows('--recipe=reference')
    # No ramp: the MixUp term at the full ce_factor 5 from the first step.
    self.assertLen(rows, 2)
    for r in rows:
      self.assertAllClose(r['mixup/effective_factor'], 5.0)
    # An explicit flag wins over the recipe: the ramp is back.
    ramped = self._train_rows('--recipe=reference', '--unsup_rampup_steps=500')
    self.assertLess(ramped[0]['mixup/effective_factor'], 0.5)


if __name__ == '__main__':
  tf.test.main()
