"""End to end: --precise_bn_batches in training, --mode=eval and the export.

The re-estimated statistics are a deterministic function of the checkpoint,
so a later --mode=eval must reproduce the training's last evaluation and the
SavedModel must reproduce its accuracy.
"""

import tensorflow as tf

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner

STEPS = 40
_RUN = (
  '--dataset=digits_uniform_0.4',
  '--method=supervised',
  '--batch_size=32',
  f'--train_steps={STEPS}',
  f'--eval_every_steps={STEPS // 2}',
  '--steps_per_loop=10',
  '--log_every_steps=10',
  '--ema_decay=0.9',
)
_KEYS = ('eval/top1', 'eval/top1_raw', 'eval/top5', 'eval/top5_raw')


class PreciseBatchNormE2ETest(tf.test.TestCase):
  def _run(self, *flags):
    proc = cli_runner.run_main(*flags)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    return proc

  def test_eval_and_export_reproduce_the_training_evaluation(self):
    workdir = self.create_tempdir().full_path
    self._run(f'--workdir={workdir}', '--precise_bn_batches=4', *_RUN)
    evals = [r for r in summaries.read_metrics(workdir) if 'eval/top1' in r]
    self.assertEqual([r['step'] for r in evals], [STEPS // 2, STEPS])
    last = evals[-1]

    self._run(
      f'--workdir={workdir}', '--mode=eval', '--precise_bn_batches=4', *_RUN
    )
    again = summaries.read_metrics(workdir)[-1]
    self.assertEqual((again['mode'], again['step']), ('eval', STEPS))
    for key in _KEYS:
      self.assertEqual(again[key], last[key], key)

    # Guard: the stored moving averages evaluate differently.
    self._run(f'--workdir={workdir}', '--mode=eval', *_RUN)
    stored = summaries.read_metrics(workdir)[-1]
    self.assertNotEqual([stored[k] for k in _KEYS], [last[k] for k in _KEYS])

    self._run(
      f'--workdir={workdir}', '--mode=export', '--precise_bn_batches=4', *_RUN
    )
    accuracy = cli_runner.digits_export_accuracy(workdir)
    self.assertAllClose(accuracy, last['eval/top1'], atol=1e-6)


if __name__ == '__main__':
  tf.test.main()
