"""End to end: IEG's evidence rule on real digits at 0%, 20% and 40% noise.

`python -m ieg_tf.main --method=ieg` with the default `--relabel_rule=
evidence` on scikit-learn's digits under asymmetric noise. With clean labels
almost nothing may be replaced; with noise, fewer labels than are wrong
(plus a margin), and the replacements must be right more often than the
labels they replace.
"""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner


class RelabelEvidenceTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(
    ('none', 0.0), ('asymmetric', 0.2), ('asymmetric', 0.4)
  )
  def test_replaced_fraction_follows_the_noise(self, noise_type, ratio):
    workdir = self.create_tempdir().full_path
    proc = cli_runner.run_main(
      f'--workdir={workdir}',
      '--dataset=digits',
      f'--noise_type={noise_type}',
      f'--noise_ratio={ratio}',
      '--method=ieg',
      '--train_steps=200',
      '--steps_per_loop=50',
      '--log_every_steps=50',
      '--eval_every_steps=200',
    )
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    rows = [
      r for r in summaries.read_metrics(workdir) if 'evidence/noise_rate' in r
    ]
    self.assertLen(rows, 4)

    def mean(key):
      return float(np.mean([r[key] for r in rows]))

    replaced = mean('relabel/replaced_fraction')
    true_noise = mean('evidence/true_noise_rate')
    if noise_type == 'none':
      self.assertEqual(true_noise, 0.0)
      self.assertLess(replaced, 0.01)
    else:
      self.assertBetween(true_noise, ratio / 2 - 0.03, ratio / 2 + 0.03)
      self.assertLess(replaced, true_noise + 0.05)
      self.assertGreater(replaced, 0.0)
      self.assertGreater(
        mean('relabel/replacement_accuracy'),
        mean('relabel/replaced_label_accuracy'),
      )
    # The estimated noise rate tracks the true one once the network learns.
    self.assertLess(abs(rows[-1]['evidence/noise_rate'] - true_noise), 0.1)


if __name__ == '__main__':
  tf.test.main()
