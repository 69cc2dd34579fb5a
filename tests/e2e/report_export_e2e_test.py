"""End to end: a short IEG run on noisy digits, then --mode=report and export.

The report must rank the examples whose labels were flipped above the clean
ones (ROC-AUC of the suspicion score against the truth), and the exported
SavedModel must reproduce the checkpoint's eval accuracy.
"""

import csv
import os

import numpy as np
import tensorflow as tf

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner

STEPS = 50
_RUN = (
  '--dataset=digits_uniform_0.6',
  '--method=ieg',
  '--batch_size=32',
  f'--train_steps={STEPS}',
  f'--eval_every_steps={STEPS}',
  f'--steps_per_loop={STEPS}',
  f'--log_every_steps={STEPS}',
  '--report_window_steps=20',
)


class ReportExportTest(tf.test.TestCase):
  def _run(self, *flags):
    proc = cli_runner.run_main(*flags)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    return proc

  def test_report_ranks_flipped_labels_first_and_export_serves(self):
    workdir = self.create_tempdir().full_path
    self._run(f'--workdir={workdir}', *_RUN)
    # The report runs distributed (2 replicas) on the same checkpoint.
    proc = self._run(
      f'--workdir={workdir}', '--mode=report', '--strategy=mirrored', *_RUN
    )
    self.assertIn('report:', proc.stdout)
    line = summaries.read_metrics(workdir)[-1]
    self.assertEqual(line['mode'], 'report')
    self.assertEqual(line['step'], STEPS)
    # Measured 0.98 after 50-80 steps; the issue asks for > 0.8.
    self.assertGreater(line['report/auc'], 0.8)
    self.assertGreater(line['report/precision'], 0.7)
    self.assertGreater(line['report/recall'], 0.7)

    with open(os.path.join(workdir, 'label_report.csv')) as f:
      rows = list(csv.DictReader(f))
    self.assertLen(rows, line['report/num_examples'])
    scores = [float(r['suspicion']) for r in rows]
    self.assertEqual(scores, sorted(scores, reverse=True))
    noisy = np.array([r['is_noisy'] == '1' for r in rows])
    self.assertAllClose(noisy.mean(), line['report/noise_rate'])
    # Flipped labels crowd the top of the ranking.
    top = noisy[: int(noisy.sum())].mean()
    self.assertGreater(top, noisy.mean() + 0.2)
    # IEG's per-example statistics were recorded in the window.
    steps = [float(r['weight_steps']) for r in rows if r['weight_steps']]
    self.assertGreater(np.sum(steps), 0)
    self.assertTrue(all(r['relabel_rate'] != '' for r in rows if r['weight']))

    self._run(f'--workdir={workdir}', '--mode=export', *_RUN)
    last_eval = [
      r for r in summaries.read_metrics(workdir) if 'eval/top1' in r
    ][-1]
    self.assertEqual(last_eval['step'], STEPS)
    accuracy = cli_runner.digits_export_accuracy(workdir)
    self.assertAllClose(accuracy, last_eval['eval/top1'], atol=1e-6)


if __name__ == '__main__':
  tf.test.main()
