"""The compiled train loop: replica invariance, EMA, BN statistics, XLA."""

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from ieg_tf.data import pipeline
from ieg_tf.data.split import Split
from ieg_tf.meta.step_api import StepContext
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


if __name__ == '__main__':
  tf.test.main()
