"""Precise BN: re-estimated statistics against a numpy oracle of BN inputs."""

import dataclasses

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.augment import views
from ieg_tf.data.prepare import PreparedData
from ieg_tf.data.split import Split
from ieg_tf.data.statistics_input import statistics_dataset_fn
from ieg_tf.eval import precise_bn
from ieg_tf.eval.evaluator import Evaluator
from ieg_tf.models.registry import build_network
from ieg_tf.optim.ema import WeightEMA
from ieg_tf.runtime import devices, export, trainer

devices.ensure_logical_cpus(2)

C, SHAPE, N = 3, (8, 8, 3), 40
GLOBAL_BATCH, NUM_BATCHES, SEED = 8, 3, 7


def _split(n=N, seed=0):
  rng = np.random.default_rng(seed)
  return Split(
    labels=rng.integers(0, C, n),
    ids=np.arange(n),
    images=rng.integers(0, 256, (n,) + SHAPE, dtype=np.uint8),
  )


def _network(strategy):
  keras.utils.set_random_seed(3)
  with strategy.scope():
    return build_network('tiny', C, SHAPE, weight_decay=0.0)


def _scribble(variables, rng, scale):
  for v in variables:
    v.assign(rng.normal(0, scale, v.shape).astype(np.float32))


def _oracle(network, params, split, num_replicas):
  """Mean over per-replica batches of each BN layer's input mean / variance.

  The BN inputs come from a functional copy of the encoder run in training
  mode (batch statistics, like the training step), moments in numpy.
  """
  encoder = network.encoder
  bns = [
    layer
    for layer in encoder.layers
    if isinstance(layer, keras.layers.BatchNormalization)
  ]
  probe = keras.Model(encoder.inputs, [bn.input for bn in bns])
  model = network.model
  saved = [v.numpy() for v in model.trainable_variables]
  for v, p in zip(model.trainable_variables, params):
    v.assign(p)
  ctx = tf.distribute.InputContext(num_replicas_in_sync=num_replicas)
  dataset = statistics_dataset_fn(
    split, GLOBAL_BATCH, NUM_BATCHES, flip=True, seed=SEED
  )(ctx)
  means = [[] for _ in bns]
  variances = [[] for _ in bns]
  batches = 0
  for batch in dataset:
    batches += 1
    inputs = probe(batch['image_weak'], training=True)
    for i, x in enumerate(inputs):
      x = np.asarray(x, np.float64)
      means[i].append(x.mean(axis=(0, 1, 2)))
      variances[i].append(x.var(axis=(0, 1, 2)))
  for v, s in zip(model.trainable_variables, saved):
    v.assign(s)
  assert batches == NUM_BATCHES * num_replicas, batches
  expected = {}
  for bn, m, var in zip(bns, means, variances):
    expected[id(bn.moving_mean)] = np.mean(m, axis=0)
    expected[id(bn.moving_variance)] = np.mean(var, axis=0)
  return [expected[id(v)] for v in model.non_trainable_variables]


def _estimator(strategy, network, ema, split):
  return precise_bn.PreciseBatchNorm(
    strategy,
    network.model,
    ema,
    split,
    global_batch=GLOBAL_BATCH,
    num_batches=NUM_BATCHES,
    flip=True,
    seed=SEED,
  )


class MathTest(tf.test.TestCase):
  def test_momenta_map_every_bn_statistic(self):
    network = _network(tf.distribute.get_strategy())
    momenta = precise_bn.moving_statistic_momenta(network.model)
    self.assertLen(momenta, len(network.model.non_trainable_variables))
    self.assertEqual(momenta, [0.9] * 6)  # tiny: 3 BN layers, mean + var

  def test_momenta_skip_other_variables(self):
    inputs = keras.Input((4,))
    x = keras.layers.BatchNormalization(momentum=0.75)(inputs)
    x = keras.layers.Dropout(0.5, seed=1)(x)
    model = keras.Model(inputs, x)
    momenta = precise_bn.moving_statistic_momenta(model)
    kinds = ['moving' in v.path for v in model.non_trainable_variables]
    self.assertEqual(momenta, [0.75 if moving else None for moving in kinds])
    self.assertIn(None, momenta)  # the dropout's seed state

  def test_average_batch_statistics_inverts_the_update(self):
    rng = np.random.default_rng(0)
    batch_stats = rng.normal(size=(5, 3))
    m = 0.9
    # What 5 updates of zeroed statistics sum to.
    sums = [np.sum((1 - m) * batch_stats, axis=0), np.ones(2)]
    got = precise_bn.average_batch_statistics(sums, [m, None], 5)
    self.assertAllClose(got[0], batch_stats.mean(axis=0))
    self.assertIsNone(got[1])


class PreciseBatchNormTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ('one_replica', False),
    ('two_replicas', True),
  )
  def test_raw_and_ema_statistics_match_the_oracle(self, mirrored):
    strategy = (
      devices.cpu_mirrored_strategy(2)
      if mirrored
      else tf.distribute.get_strategy()
    )
    network = _network(strategy)
    cfg = config.default_config()
    state = trainer.TrainState(cfg, strategy, network, N)
    rng = np.random.default_rng(1)
    _scribble(network.model.trainable_variables, rng, 0.3)
    _scribble(state.ema.shadows, rng, 0.3)
    stored = [v.numpy() for v in network.model.non_trainable_variables]
    split = _split()
    estimator = _estimator(strategy, network, state.ema, split)
    estimator.refresh()
    # The model's own statistics stay (the oracle below changes them).
    for v, s in zip(network.model.non_trainable_variables, stored):
      self.assertAllEqual(v.numpy(), s)
    raw = [v.numpy() for v in network.model.trainable_variables]
    ema = [s.numpy() for s in state.ema.shadows]
    replicas = strategy.num_replicas_in_sync
    for name, params in (('raw', raw), ('ema', ema)):
      want = _oracle(network, params, split, replicas)
      got = estimator.host_values(name)
      for g, w in zip(got, want):
        self.assertAllClose(g, w, rtol=1e-4, atol=1e-5)
    # The weight sets really differ.
    self.assertNotAllClose(
      estimator.host_values('raw')[0], estimator.host_values('ema')[0]
    )

  def test_refresh_is_deterministic_and_follows_the_weights(self):
    strategy = tf.distribute.get_strategy()
    network = _network(strategy)
    split = _split()
    estimator = _estimator(strategy, network, None, split)
    estimator.refresh()
    first = estimator.host_values('raw')
    estimator.refresh()
    for a, b in zip(first, estimator.host_values('raw')):
      self.assertAllEqual(a, b)
    _scribble(network.model.trainable_variables, np.random.default_rng(2), 1)
    estimator.refresh()
    self.assertNotAllClose(first[0], estimator.host_values('raw')[0])
    # One trace for the raw weights, reused by every batch and refresh.
    self.assertEqual(estimator._sums.experimental_get_tracing_count(), 1)

  def test_evaluator_uses_the_estimate(self):
    # Evaluating each weight set with its estimate must equal evaluating a
    # model that holds those weights and has its moving statistics
    # overwritten with the estimate.
    strategy = devices.cpu_mirrored_strategy(2)
    network = _network(strategy)
    model = network.model
    rng = np.random.default_rng(4)
    _scribble(model.trainable_variables, rng, 0.3)
    with strategy.scope():
      ema = WeightEMA(model.trainable_variables, 0.9)
    _scribble(ema.shadows, rng, 0.3)
    split = _split()
    estimator = _estimator(strategy, network, ema, split)
    estimator.refresh()
    precise = Evaluator(strategy, model, ema, split, 8, estimator).evaluate()
    moving = Evaluator(strategy, model, ema, split, 8).evaluate()
    raw = [v.numpy() for v in model.trainable_variables]
    shadows = [s.numpy() for s in ema.shadows]
    for name, params in (('raw', raw), ('ema', shadows)):
      for v, p in zip(model.trainable_variables, params):
        v.assign(p)
      for v, value in zip(
        model.non_trainable_variables, estimator.host_values(name)
      ):
        v.assign(value)
      assigned = Evaluator(strategy, model, None, split, 8).evaluate()
      for k in ('top1', 'top5'):
        self.assertEqual(precise[f'eval/{k}_{name}'], assigned[f'eval/{k}'])
    self.assertEqual(precise['eval/top1'], precise['eval/top1_ema'])
    # Guard: the stored (initial) statistics give other predictions.
    self.assertNotEqual(
      [moving[f'eval/top{k}_{n}'] for k in (1, 5) for n in ('raw', 'ema')],
      [precise[f'eval/top{k}_{n}'] for k in (1, 5) for n in ('raw', 'ema')],
    )

  def test_export_writes_the_estimate(self):
    strategy = tf.distribute.get_strategy()
    workdir = self.create_tempdir().full_path
    cfg = config.default_config()
    cfg = dataclasses.replace(
      cfg,
      run=dataclasses.replace(
        cfg.run,
        workdir=workdir,
        batch_size=GLOBAL_BATCH,
        precise_bn_batches=NUM_BATCHES,
      ),
    )
    network = _network(strategy)
    state = trainer.TrainState(cfg, strategy, network, N)
    _scribble(state.ema.shadows, np.random.default_rng(5), 0.3)
    split = _split()
    data = PreparedData(
      name='toy',
      num_classes=C,
      class_names=('a', 'b', 'c'),
      train=split,
      probe=split,
      test=split,
      image_shape=SHAPE,
    )
    state.checkpointer.save(1)
    estimator = precise_bn.for_run(cfg, strategy, data, state, split)
    self.assertIsInstance(estimator, precise_bn.PreciseBatchNorm)
    estimator.refresh()
    export.run_export(cfg, strategy, data, state)
    serve = tf.saved_model.load(f'{workdir}/saved_model').signatures[
      'serving_default'
    ]
    served = serve(images=tf.constant(split.images))['probabilities'].numpy()

    def probabilities(stats):
      logits, _ = network.model.stateless_call(
        state.ema.values(), stats, views.to_float(split.images), training=False
      )
      return tf.nn.softmax(logits).numpy()

    self.assertAllClose(
      served, probabilities(estimator.host_values('ema')), atol=1e-5
    )
    stored = [v.numpy() for v in network.model.non_trainable_variables]
    self.assertNotAllClose(served, probabilities(stored), atol=1e-3)

  def test_zero_batches_is_the_moving_statistics(self):
    cfg = config.default_config()
    cfg = dataclasses.replace(
      cfg, run=dataclasses.replace(cfg.run, precise_bn_batches=0)
    )
    strategy = tf.distribute.get_strategy()
    network = _network(strategy)
    state = trainer.TrainState(cfg, strategy, network, N)
    got = precise_bn.for_run(cfg, strategy, None, state, _split())
    self.assertIsInstance(got, precise_bn.MovingStatistics)


if __name__ == '__main__':
  tf.test.main()
