"""End to end: `python -m ieg_tf.main` on the real digits data, read back."""

import os

import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner

_FAST = (
  '--method=supervised',
  '--batch_size=32',
  '--steps_per_loop=10',
  '--log_every_steps=10',
  '--eval_every_steps=30',
)


class MainDigitsTest(tf.test.TestCase):
  def _run(self, *flags):
    proc = cli_runner.run_main(*flags)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    return proc

  def test_train_resume_eval_and_replay(self):
    workdir = self.create_tempdir().full_path
    proc = self._run(f'--workdir={workdir}', '--train_steps=60', *_FAST)
    self.assertIn('final: step=60', proc.stdout)
    rows = summaries.read_metrics(workdir)
    evals = [r for r in rows if 'eval/top1' in r]
    self.assertEqual([r['step'] for r in evals], [30, 60])
    for r in evals:
      for key in ('eval/top1', 'eval/top1_raw', 'eval/top5'):
        self.assertBetween(r[key], 0.0, 1.0)
      self.assertGreater(r['eval/num_examples'], 100)
    train_rows = [r for r in rows if 'loss/total' in r]
    self.assertEqual([r['step'] for r in train_rows], [10, 20, 30, 40, 50, 60])
    # TensorBoard holds the same eval scalars (TF2 stores them as tensors).
    acc = event_accumulator.EventAccumulator(
      os.path.join(workdir, 'tensorboard'), size_guidance={'tensors': 0}
    )
    acc.Reload()
    tb = acc.Tensors('eval/top1')
    self.assertEqual([e.step for e in tb], [30, 60])
    self.assertAllClose(
      float(tf.make_ndarray(tb[-1].tensor_proto)), evals[-1]['eval/top1']
    )
    self.assertIn('train/lr', acc.Tags()['tensors'])
    self.assertNotEmpty(
      tf.io.gfile.glob(os.path.join(workdir, 'checkpoints', 'ckpt-60*'))
    )

    # Resume: the same workdir continues at 60, not from scratch.
    self._run(f'--workdir={workdir}', '--train_steps=90', *_FAST)
    steps = [r['step'] for r in summaries.read_metrics(workdir)]
    self.assertEqual(steps[len(rows) :][0], 70)
    self.assertEqual(max(steps), 90)

    # --mode=eval restores the newest checkpoint and reproduces its accuracy.
    last_eval = [
      r for r in summaries.read_metrics(workdir) if 'eval/top1' in r
    ][-1]
    proc = self._run(f'--workdir={workdir}', '--mode=eval', '--batch_size=32')
    got = summaries.read_metrics(workdir)[-1]
    self.assertEqual(got['mode'], 'eval')
    self.assertEqual(got['step'], 90)
    self.assertAllClose(got['eval/top1'], last_eval['eval/top1'], atol=1e-6)

    # flags.cfg replays the run with --flagfile.
    flagfile = os.path.join(workdir, 'flags.cfg')
    with open(flagfile) as f:
      text = f.read()
    self.assertIn('--train_steps=90', text)
    self.assertIn('--dataset=digits', text)
    replay = self.create_tempdir().full_path
    proc = self._run(
      f'--flagfile={flagfile}', f'--workdir={replay}', '--train_steps=20'
    )
    self.assertIn('final: step=20', proc.stdout)

  def test_every_method_runs(self):
    for method in ('ieg', 'l2r', 'gce', 'probe_only'):
      workdir = self.create_tempdir().full_path
      proc = self._run(
        f'--workdir={workdir}',
        '--train_steps=20',
        *_FAST,
        f'--method={method}',  # after _FAST: the last value wins
      )
      self.assertIn(f'method={method}', proc.stdout)
      rows = summaries.read_metrics(workdir)
      self.assertNotEmpty([r for r in rows if 'eval/top1' in r])
      keys = {k for r in rows for k in r}
      if method in ('ieg', 'l2r'):
        self.assertContainsSubset(
          [
            'loss/meta',
            'acc/meta',
            'weights/zero_fraction',
            'weights/clean_mean',
            'weights/noisy_mean',
          ],
          keys,
        )
      if method == 'ieg':
        self.assertContainsSubset(
          [
            'relabel/replaced_fraction',
            'relabel/precision',
            'relabel/recall',
            'pseudo/accuracy',
            'loss/xemin',
            'loss/consistency',
          ],
          keys,
        )

  def test_ieg_three_views(self):
    workdir = self.create_tempdir().full_path
    proc = self._run(
      f'--workdir={workdir}',
      '--train_steps=20',
      *_FAST,
      '--method=ieg',
      '--num_views=3',
    )
    self.assertIn('method=ieg', proc.stdout)
    rows = summaries.read_metrics(workdir)
    train = [r for r in rows if 'loss/xemin' in r]
    self.assertEqual([r['step'] for r in train], [10, 20])
    for r in train:
      self.assertTrue(all(abs(v) < 1e6 for v in r.values()))
    with open(os.path.join(workdir, 'flags.cfg')) as f:
      self.assertIn('--num_views=3', f.read())

  def test_weight_and_relabel_options(self):
    options = (
      '--meta_weight_rule=class_balanced',
      '--weight_source=network',
    )
    for method, extra in (('l2r', ()), ('ieg', ('--relabel_rule=reference',))):
      workdir = self.create_tempdir().full_path
      proc = self._run(
        f'--workdir={workdir}',
        '--train_steps=20',
        *_FAST,
        f'--method={method}',
        *options,
        *extra,
      )
      self.assertIn(f'method={method}', proc.stdout)
      train = [r for r in summaries.read_metrics(workdir) if 'acc/meta' in r]
      self.assertEqual([r['step'] for r in train], [10, 20])
      for r in train:
        self.assertBetween(r['weights/clean_auc'], 0.0, 1.0)
        # The confidence share keeps every example's weight above 0.
        self.assertEqual(r['weights/zero_fraction'], 0.0)
      with open(os.path.join(workdir, 'flags.cfg')) as f:
        text = f.read()
      for flag in options + extra:
        self.assertIn(flag, text)


if __name__ == '__main__':
  tf.test.main()
