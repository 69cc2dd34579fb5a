"""The compiled train loop: replica invariance, EMA, BN statistics, XLA, and
the non-finite guard / stop flag."""

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from ieg_tf.data import pipeline
from ieg_tf.data.split import Split
from ieg_tf.meta.step_api import StepContext, StepDefaults, StepOutput
from ieg_tf.meta.supervised_step import SupervisedStep
from ieg_tf.models.registry import build_network
from ieg_tf.optim.ema import WeightEMA
from ieg_tf.optim.momentum import MomentumOptimizer
from ieg_tf.runtime import devices, train_loop

devices.ensure_logical_cpus(2)


def _split():
  rng = np.random.default_rng(0)
  return Split(
    labels=rng.integers(0, 3, 64),
    ids=np.arange(64),
    images=rng.integers(0, 256, (64, 8, 8, 1), dtype=np.uint8),
  )


def _mlp():
  # No BatchNorm: per-replica batch statistics would legitimately differ
  # between 1x8 and 2x4, and this test is about the gradient arithmetic.
  keras.utils.set_random_seed(1)
  return keras.Sequential(
    [
      keras.Input((8, 8, 1)),
      keras.layers.Flatten(),
      keras.layers.Dense(16, activation='relu'),
      keras.layers.Dense(3),
    ]
  )


def _train(strategy, model_fn, steps=3, jit=False, loss='ce'):
  with strategy.scope():
    model = model_fn()
    opt = MomentumOptimizer(model.trainable_variables, lambda s: 0.1, 0.9)
    ema = WeightEMA(model.trainable_variables, 0.99)
  ctx = StepContext(
    forward=model.stateless_call,
    global_batch=8,
    num_replicas=strategy.num_replicas_in_sync,
    num_classes=3,
    weight_decay=1e-3,
    decay_mask=(True,) * len(model.trainable_variables),
  )
  step = SupervisedStep(ctx, loss=loss)
  spec = pipeline.TrainInput(global_batch=8, flip=False, seed=5)
  dist = strategy.distribute_datasets_from_function(
    pipeline.train_dataset_fn(_split(), None, spec)
  )
  loop = train_loop.make_train_loop(
    strategy, model, opt, ema, step, seed=1, jit_compile=jit
  )
  metrics = loop(iter(dist), tf.constant(steps))
  return model, opt, ema, metrics


class _PoisonedStep(StepDefaults):
  """SupervisedStep whose gradients (main or extra) turn NaN at one step.

  With `extra=True` it also owns a variable (like the Meta-Weight-Net) whose
  gradient is the poisoned one, so the guard must cover `extra_grads`.
  """

  needs_probe = False
  needs_strong_view = False
  extra_learning_rate = 0.1

  def __init__(self, ctx, bad_step, extra):
    self._inner = SupervisedStep(ctx)
    self.metric_names = self._inner.metric_names
    self._bad_step = bad_step
    self._extra = extra
    if extra:
      self.extra_variables = [tf.Variable([1.0, 2.0], name='extra')]

  def compute(self, params, non_trainable, slots, batch, seed, step, **kw):
    out = self._inner.compute(params, non_trainable, slots, batch, seed, step)
    poison = tf.where(step == self._bad_step, float('nan'), 1.0)
    if not self._extra:
      return out._replace(grads=[g * poison for g in out.grads])
    return StepOutput(
      out.grads,
      out.new_non_trainable,
      out.metrics,
      extra_grads=[tf.ones([2]) * poison],
    )


def _guarded_run(strategy, steps, *, extra, skip, bad_step=2, stop=False):
  with strategy.scope():
    model = _mlp()
    opt = MomentumOptimizer(model.trainable_variables, lambda s: 0.1, 0.9)
    ema = WeightEMA(model.trainable_variables, 0.99)
  ctx = StepContext(
    forward=model.stateless_call,
    global_batch=8,
    num_replicas=strategy.num_replicas_in_sync,
    num_classes=3,
    weight_decay=1e-3,
    decay_mask=(True,) * len(model.trainable_variables),
  )
  with strategy.scope():
    step = _PoisonedStep(ctx, bad_step, extra)
    extra_opt = None
    if extra:
      extra_opt = MomentumOptimizer(
        step.extra_variables, lambda s: 0.1, 0.9, name='extra_momentum'
      )
  spec = pipeline.TrainInput(global_batch=8, flip=False, seed=5)
  dist = strategy.distribute_datasets_from_function(
    pipeline.train_dataset_fn(_split(), None, spec)
  )
  flag = tf.Variable(stop, trainable=False)
  loop = train_loop.make_train_loop(
    strategy,
    model,
    opt,
    ema,
    step,
    seed=1,
    jit_compile=False,
    extra_optimizer=extra_opt,
    skip_nonfinite=skip,
    stop_flag=flag,
  )
  metrics = loop(iter(dist), tf.constant(steps))
  weights = [v.numpy() for v in model.trainable_variables]
  weights += [s.numpy() for s in ema.shadows + opt.slots]
  if extra:
    weights += [v.numpy() for v in step.extra_variables]
  return opt, metrics, weights


class TrainLoopTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters('ce', 'gce')
  def test_one_device_8_equals_mirrored_2x4(self, loss):
    one = _train(tf.distribute.OneDeviceStrategy('/cpu:0'), _mlp, loss=loss)
    two = _train(devices.cpu_mirrored_strategy(2), _mlp, loss=loss)
    for a, b in zip(one[0].trainable_variables, two[0].trainable_variables):
      self.assertAllClose(a.numpy(), b.numpy(), atol=1e-5)
    for a, b in zip(one[2].shadows, two[2].shadows):
      self.assertAllClose(a.numpy(), b.numpy(), atol=1e-5)
    self.assertAllClose(one[3]['loss/total'], two[3]['loss/total'], atol=1e-5)
    self.assertEqual(int(two[1].iterations.numpy()), 3)

  def test_training_moves_weights_and_bn_statistics_stay_in_sync(self):
    strategy = devices.cpu_mirrored_strategy(2)

    def tiny():
      return build_network('tiny', 3, (8, 8, 1)).model

    model, _, _, metrics = _train(strategy, tiny, steps=2)
    stats = model.non_trainable_variables
    self.assertNotEmpty(stats)
    moved = False
    for var in stats:
      copies = strategy.experimental_local_results(var.value)
      self.assertAllClose(copies[0].numpy(), copies[1].numpy())
      init = np.zeros(var.shape) if 'mean' in var.path else np.ones(var.shape)
      moved |= not np.allclose(copies[0].numpy(), init)
    self.assertTrue(moved, 'BatchNorm moving statistics never updated')
    self.assertTrue(np.isfinite(metrics['loss/total']))

  def test_jit_compile_gives_the_same_update(self):
    strategy = tf.distribute.get_strategy()
    plain = _train(strategy, _mlp)
    jit = _train(strategy, _mlp, jit=True)
    for a, b in zip(plain[0].trainable_variables, jit[0].trainable_variables):
      self.assertAllClose(a.numpy(), b.numpy(), atol=1e-5)

  @parameterized.parameters((False, False), (True, True))
  def test_non_finite_step_stops_the_chunk_and_updates_nothing(
    self, extra, two
  ):
    strategy = (
      devices.cpu_mirrored_strategy(2)
      if two
      else tf.distribute.OneDeviceStrategy('/cpu:0')
    )
    opt, metrics, weights = _guarded_run(strategy, 5, extra=extra, skip=False)
    # Steps 0 and 1 ran, step 2 was poisoned: nothing after it ran.
    self.assertEqual(int(opt.iterations.numpy()), 3)
    self.assertEqual(int(opt.nonfinite_steps.numpy()), 1)
    self.assertEqual(int(opt.first_nonfinite_step.numpy()), 2)
    for w in weights:
      self.assertTrue(np.isfinite(w).all())
    self.assertTrue(np.isfinite(metrics['loss/total']))
    # The poisoned step changed nothing: weights equal a clean 2-step run.
    _, _, want = _guarded_run(strategy, 2, extra=extra, skip=False)
    n_model = len(want) if not extra else len(want) - 1
    for a, b in zip(weights[:n_model], want[:n_model]):
      self.assertAllClose(a, b, atol=1e-6)

  def test_skip_nonfinite_keeps_training_and_counts(self):
    strategy = tf.distribute.get_strategy()
    opt, metrics, weights = _guarded_run(strategy, 5, extra=True, skip=True)
    self.assertEqual(int(opt.iterations.numpy()), 5)
    self.assertEqual(int(opt.nonfinite_steps.numpy()), 1)
    for w in weights:
      self.assertTrue(np.isfinite(w).all())
    # Averages leave the skipped step out (its loss was finite but its
    # metrics must not be mixed with a discarded update).
    self.assertTrue(np.isfinite(metrics['loss/total']))
    self.assertGreater(metrics['loss/total'], 0.0)

  def test_stop_flag_ends_the_chunk_before_the_next_step(self):
    strategy = tf.distribute.get_strategy()
    opt, _, _ = _guarded_run(strategy, 4, extra=False, skip=False, stop=True)
    self.assertEqual(int(opt.iterations.numpy()), 0)


if __name__ == '__main__':
  tf.test.main()
