"""End to end: `--mode=pretrain`, and `--mode=train --pretrain_steps` on digits."""

import os

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner

_FAST = (
  '--batch_size=32',
  '--steps_per_loop=5',
  '--log_every_steps=5',
  '--eval_every_steps=10',
  '--linear_probe_examples=200',
  '--proj_dim=16',
)


class PretrainE2ETest(tf.test.TestCase):
  def _run(self, *flags):
    proc = cli_runner.run_main(*flags)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    return proc

  def test_mode_pretrain_then_train_resumes_and_finishes_the_stage(self):
    workdir = self.create_tempdir().full_path
    proc = self._run(
      f'--workdir={workdir}', '--mode=pretrain', '--pretrain_steps=5', *_FAST
    )
    line = [s for s in proc.stdout.splitlines() if s.startswith('pretrain:')]
    self.assertLen(line, 1)
    self.assertIn('step=5', line[0])
    self.assertIn('pretrain/linear_probe_top1=', line[0])
    rows = summaries.read_metrics(workdir)
    train_rows = [r for r in rows if 'pretrain/loss' in r]
    self.assertEqual([r['step'] for r in train_rows], [5])
    for r in train_rows:
      self.assertTrue(all(k.startswith('pretrain/') for k in r if k != 'step'))
      self.assertBetween(r['pretrain/contrast_acc'], 0.0, 1.0)
    diag = rows[-1]
    self.assertEqual(diag['pretrain/linear_probe_labels'], 'clean')
    self.assertBetween(diag['pretrain/linear_probe_top1'], 0.0, 1.0)
    self.assertBetween(diag['pretrain/gmm_auc'], 0.0, 1.0)
    self.assertNotEmpty(
      tf.io.gfile.glob(
        os.path.join(workdir, 'pretrain', 'checkpoints', 'ckpt-5*')
      )
    )
    self.assertFalse(tf.io.gfile.exists(os.path.join(workdir, 'checkpoints')))
    acc = event_accumulator.EventAccumulator(
      os.path.join(workdir, 'tensorboard'), size_guidance={'tensors': 0}
    )
    acc.Reload()
    self.assertContainsSubset(
      ['pretrain/loss', 'pretrain/lr', 'pretrain/linear_probe_top1'],
      acc.Tags()['tensors'],
    )

    # --mode=train --pretrain_steps=10 in the same workdir: the stage
    # resumes at 5, finishes at 10, then the method trains from its encoder.
    proc = self._run(
      f'--workdir={workdir}',
      '--mode=train',
      '--method=supervised',
      '--pretrain_steps=10',
      '--train_steps=10',
      *_FAST,
    )
    self.assertIn('final: step=10 method=supervised', proc.stdout)
    new = summaries.read_metrics(workdir)[len(rows) :]
    pre = [i for i, r in enumerate(new) if 'pretrain/loss' in r]
    train = [i for i, r in enumerate(new) if 'loss/total' in r]
    self.assertEqual([new[i]['step'] for i in pre], [10])
    self.assertNotEmpty(train)
    self.assertLess(max(pre), min(train))
    self.assertNotEmpty([r for r in new if 'eval/top1' in r])
    self.assertNotEmpty(
      tf.io.gfile.glob(
        os.path.join(workdir, 'pretrain', 'checkpoints', 'ckpt-10*')
      )
    )


class PipelineE2ETest(tf.test.TestCase):
  def test_stage_in_epochs_then_an_encoder_from_init_checkpoint(self):
    workdir = self.create_tempdir().full_path
    # 1,347 train images at batch 32: a quarter epoch is 11 steps.
    proc = cli_runner.run_main(
      f'--workdir={workdir}',
      '--method=supervised',
      '--pretrain_epochs=0.25',
      '--train_steps=10',
      *_FAST,
    )
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    lines = proc.stdout.splitlines()
    stages = [s for s in lines if s.startswith('stage ')]
    self.assertLen(stages, 2)
    self.assertStartsWith(
      stages[0], 'stage pretrain: 11 steps (0.3 epochs of 1347 images) in '
    )
    self.assertIn('pretrain/linear_probe_top1=', stages[0])
    self.assertStartsWith(stages[1], 'stage train: supervised to step 10 in ')
    self.assertIn('eval/top1=', stages[1])
    self.assertStartsWith(lines[-1], 'final: step=10 method=supervised')
    rows = summaries.read_metrics(workdir)
    self.assertEqual(
      [r['step'] for r in rows if 'pretrain/loss' in r], [5, 10, 11]
    )

    # Another run from that encoder: no stage of its own.
    other = self.create_tempdir().full_path
    init = f'--init_checkpoint={os.path.join(workdir, "pretrain")}'
    proc = cli_runner.run_main(
      f'--workdir={other}',
      '--method=supervised',
      '--pretrain_epochs=0.25',
      init,
      '--train_steps=5',
      *_FAST,
    )
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    self.assertIn(
      'stage pretrain: skipped, encoder from --init_checkpoint', proc.stdout
    )
    self.assertFalse(tf.io.gfile.exists(os.path.join(other, 'pretrain')))

    # Exact stage steps and a checkpoint: one error line, exit 2.
    proc = cli_runner.run_main(
      f'--workdir={self.create_tempdir().full_path}',
      init,
      '--pretrain_steps=3',
      '--train_steps=5',
      *_FAST,
    )
    self.assertEqual(proc.returncode, 2)
    errors = [s for s in proc.stderr.splitlines() if 'ieg_tf: error:' in s]
    self.assertLen(errors, 1)
    self.assertIn('both give the encoder', errors[0])
    self.assertNotIn('Traceback', proc.stderr)


class NeighborVoteE2ETest(tf.test.TestCase):
  def test_ieg_with_neighbor_votes_trains_and_resumes(self):
    workdir = self.create_tempdir().full_path
    common = (
      f'--workdir={workdir}',
      '--method=ieg',
      '--pretrain_steps=5',
      '--label_vote_neighbors=10',
      *_FAST,
    )
    proc = cli_runner.run_main(*common, '--train_steps=10')
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    self.assertIn('final: step=10 method=ieg', proc.stdout)
    path = os.path.join(workdir, 'label_prior.npz')
    saved = np.load(path)
    self.assertEqual(saved['prior'].ndim, 2)
    self.assertAllClose(saved['prior'].sum(1), np.ones(len(saved['ids'])))
    rows = summaries.read_metrics(workdir)
    vote = [r for r in rows if 'label_vote/train_top1' in r]
    self.assertLen(vote, 1)
    for key in ('train_top1', 'given_top1', 'probe_top1', 'clean_auc'):
      self.assertBetween(vote[0][f'label_vote/{key}'], 0.0, 1.0)
    self.assertNotEmpty([r for r in rows if 'pseudo/accuracy' in r])
    # Resume: the encoder is gone (the training checkpoint holds the
    # trained network), so the saved prior is read, not recomputed.
    before = open(path, 'rb').read()
    proc = cli_runner.run_main(*common, '--train_steps=20')
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    self.assertIn('final: step=20 method=ieg', proc.stdout)
    self.assertIn('label prior read from', proc.stderr)
    self.assertEqual(open(path, 'rb').read(), before)
    # Without the file the resumed run stops with one clear line.
    os.remove(path)
    proc = cli_runner.run_main(*common, '--train_steps=30')
    self.assertEqual(proc.returncode, 2)
    errors = [s for s in proc.stderr.splitlines() if 'ieg_tf: error:' in s]
    self.assertLen(errors, 1)
    self.assertIn('label_prior.npz is missing', errors[0])
    self.assertNotIn('Traceback', proc.stderr)


if __name__ == '__main__':
  tf.test.main()
