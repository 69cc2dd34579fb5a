"""The host loop in process: checkpoint schedule, progress log, NaN policy."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data.prepare import PreparedData
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError
from ieg_tf.meta.step_api import StepContext
from ieg_tf.meta.supervised_step import SupervisedStep
from ieg_tf.models.registry import build_network
from ieg_tf.runtime import summaries, trainer

C, SHAPE = 3, (8, 8, 1)


def _data():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, C, 48)
  train = Split(
    labels=labels,
    ids=np.arange(48),
    images=rng.integers(0, 256, (48,) + SHAPE, dtype=np.uint8),
  )
  test = train.take(np.arange(12))
  return PreparedData(
    name='digits',
    num_classes=C,
    class_names=('a', 'b', 'c'),
    train=train,
    probe=test.take([]),
    test=test,
    image_shape=SHAPE,
  )


def _train(workdir, lr=0.1, **run):
  """One in-process `trainer.train` on the default strategy."""
  cfg = config.default_config()
  run = dict(
    dict(
      workdir=workdir,
      batch_size=8,
      eval_batch_size=8,
      train_steps=12,
      steps_per_loop=4,
      log_every_steps=4,
      eval_every_steps=6,
    ),
    **run,
  )
  cfg = dataclasses.replace(
    cfg,
    run=dataclasses.replace(cfg.run, **run),
    optim=dataclasses.replace(cfg.optim, learning_rate=lr, warmup_steps=0),
  )
  strategy = tf.distribute.get_strategy()
  data = _data()
  network = build_network('tiny', C, SHAPE, weight_decay=1e-4)
  ctx = StepContext(
    forward=network.model.stateless_call,
    global_batch=8,
    num_replicas=1,
    num_classes=C,
    weight_decay=network.weight_decay,
    decay_mask=network.decay_mask,
  )
  step = SupervisedStep(ctx)
  state = trainer.TrainState(cfg, strategy, network, len(data.train), step)
  return trainer.train(cfg, strategy, data, data.train, state, step)


def _checkpoint_steps(workdir):
  names = tf.io.gfile.glob(os.path.join(workdir, 'checkpoints', '*.index'))
  return sorted(int(n.rsplit('-', 1)[1].split('.')[0]) for n in names)


def _all_finite(workdir, step):
  reader = tf.train.load_checkpoint(
    os.path.join(workdir, 'checkpoints', f'ckpt-{step}')
  )
  for name in reader.get_variable_to_shape_map():
    value = np.asarray(reader.get_tensor(name))
    if value.dtype.kind == 'f' and not np.isfinite(value).all():
      return False
  return True


class TrainerTest(tf.test.TestCase):
  def test_checkpoint_every_steps_and_progress_log_with_top1(self):
    workdir = self.create_tempdir().full_path
    with self.assertLogs('absl', 'INFO') as logs:
      result = _train(workdir, checkpoint_every_steps=4, keep_checkpoints=9)
    self.assertEqual(result['step'], 12)
    self.assertEqual(_checkpoint_steps(workdir), [4, 8, 12])
    progress = [m for m in logs.output if 'steps/s' in m and 'ETA' in m]
    self.assertLen(progress, 3)  # steps 4, 8, 12
    self.assertNotIn('eval top1', progress[0])  # no eval yet at step 4
    top1 = summaries.read_metrics(workdir)
    first_eval = [r for r in top1 if 'eval/top1' in r][0]
    self.assertIn(f'eval top1 {first_eval["eval/top1"]:.4f} @6', progress[1])
    rows = [r for r in top1 if 'loss/total' in r]
    self.assertEqual([r['train/nonfinite_steps'] for r in rows], [0, 0, 0])

  def test_checkpoint_every_zero_means_at_every_eval(self):
    workdir = self.create_tempdir().full_path
    _train(workdir, checkpoint_every_steps=0, keep_checkpoints=9)
    self.assertEqual(_checkpoint_steps(workdir), [6, 12])

  def test_divergence_stops_naming_the_step_and_keeps_the_good_checkpoint(
    self,
  ):
    workdir = self.create_tempdir().full_path
    _train(workdir, train_steps=6)
    self.assertEqual(_checkpoint_steps(workdir), [6])
    with self.assertRaisesRegex(
      UserError,
      r'non-finite loss or gradients in training step (\d+) of 12; no '
      r'update was applied and the last good checkpoint .*ckpt-6 is kept',
    ) as raised:
      _train(workdir, lr=1e30)
    bad_step = int(raised.exception.args[0].split('step ')[1].split()[0])
    self.assertBetween(bad_step, 7, 12)
    self.assertEqual(_checkpoint_steps(workdir), [6])
    self.assertTrue(_all_finite(workdir, 6))

  def test_skip_nonfinite_counts_and_never_saves_nan(self):
    workdir = self.create_tempdir().full_path
    _train(workdir, lr=1e30, skip_nonfinite=True)
    rows = [r for r in summaries.read_metrics(workdir) if 'loss/total' in r]
    counts = [r['train/nonfinite_steps'] for r in rows]
    self.assertGreater(counts[-1], 0)
    self.assertEqual(counts, sorted(counts))
    self.assertEqual(_checkpoint_steps(workdir)[-1], 12)
    self.assertTrue(_all_finite(workdir, 12))


if __name__ == '__main__':
  tf.test.main()
