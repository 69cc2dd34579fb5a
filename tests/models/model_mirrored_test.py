"""The train-step pattern under MirroredStrategy over 2 logical CPUs.

Build inside `strategy.scope()`, run stateless_call inside `strategy.run` in a
tf.function (optionally XLA-compiled per replica) and assign the returned BN
statistics back in replica context. BN moving statistics are ON_READ / MEAN
(`ieg_tf/models/batch_norm.py`): each replica keeps its own, cross-replica
reads and checkpoints see their mean.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.models import batch_norm
from ieg_tf.models import registry
from ieg_tf.runtime import devices

devices.ensure_logical_cpus(2)

SHAPE = (8, 8, 3)
CLASSES = 4


def _twin(source: keras.Model) -> keras.Model:
  """A non-distributed copy holding the same values (cross-replica read)."""
  twin = registry.build_network('tiny', CLASSES, SHAPE).model
  for dst, src in zip(twin.variables, source.variables):
    dst.assign(src.numpy())
  return twin


class ModelMirroredTest(tf.test.TestCase, parameterized.TestCase):
  def setUp(self):
    super().setUp()
    self.strategy = devices.cpu_mirrored_strategy(2)
    self.assertEqual(self.strategy.num_replicas_in_sync, 2, 'needs 2 CPUs')
    with self.strategy.scope():
      self.model = registry.build_network('tiny', CLASSES, SHAPE).model
    rng = np.random.default_rng(11)
    self.shards = [
      tf.constant(rng.uniform(-1, 1, (3, *SHAPE)), tf.float32) for _ in range(2)
    ]

  def _distributed_images(self):
    return self.strategy.experimental_distribute_values_from_function(
      lambda ctx: self.shards[ctx.replica_id_in_sync_group]
    )

  def test_variable_kinds(self):
    for v in self.model.trainable_variables:
      self.assertEqual(
        v.value.synchronization, tf.VariableSynchronization.ON_WRITE
      )
    self.assertNotEmpty(self.model.non_trainable_variables)
    for v in self.model.non_trainable_variables:
      self.assertEqual(
        v.value.synchronization, tf.VariableSynchronization.ON_READ
      )
      self.assertEqual(v.value.aggregation, tf.VariableAggregation.MEAN)

  @parameterized.named_parameters(('graph', False), ('xla', True))
  def test_assign_new_statistics_in_replica_context(self, jit):
    model = self.model
    twin = _twin(model)
    trainable_before = [v.numpy() for v in model.trainable_variables]

    def forward(x):
      trainable = [v.value for v in model.trainable_variables]
      non_trainable = [v.value for v in model.non_trainable_variables]
      return model.stateless_call(trainable, non_trainable, x, training=True)

    replica_forward = tf.function(forward, jit_compile=True) if jit else forward

    @tf.function
    def step(images):
      def replica_fn(x):
        logits, new_nt = replica_forward(x)
        for v, value in zip(model.non_trainable_variables, new_nt):
          v.assign(value)
        return logits

      return self.strategy.run(replica_fn, args=(images,))

    logits = self.strategy.experimental_local_results(
      step(self._distributed_images())
    )

    # Expected per replica: the same call on that replica's shard alone.
    expected = [
      twin.stateless_call(
        [v.value for v in twin.trainable_variables],
        [v.value for v in twin.non_trainable_variables],
        shard,
        training=True,
      )
      for shard in self.shards
    ]
    for r in range(2):
      self.assertAllClose(logits[r], expected[r][0], rtol=1e-5, atol=1e-5)
    for i, v in enumerate(model.non_trainable_variables):
      local = self.strategy.experimental_local_results(v.value)
      for r in range(2):
        self.assertAllClose(local[r], expected[r][1][i], atol=1e-6)
      # Replicas saw different batches, so their statistics differ ...
      self.assertNotAllClose(local[0], local[1])
      # ... and a cross-replica read is their mean.
      mean = (expected[0][1][i] + expected[1][1][i]) / 2
      self.assertAllClose(v.numpy(), mean, atol=1e-6)
    # The trainable variables were not touched and are still mirrored.
    for v, before in zip(model.trainable_variables, trainable_before):
      for local in self.strategy.experimental_local_results(v.value):
        self.assertAllEqual(local, before)

  def _train_statistics(self):
    """One replica-context pass that assigns the new BN statistics."""
    model = self.model

    @tf.function
    def step(images):
      def replica_fn(x):
        _, new_nt = model.stateless_call(
          [v.value for v in model.trainable_variables],
          [v.value for v in model.non_trainable_variables],
          x,
          training=True,
        )
        for v, value in zip(model.non_trainable_variables, new_nt):
          v.assign(value)

      self.strategy.run(replica_fn, args=(images,))

    step(self._distributed_images())

  def test_average_moving_statistics(self):
    self._train_statistics()
    variables = self.model.non_trainable_variables
    means = [v.numpy() for v in variables]
    local = self.strategy.experimental_local_results(variables[0].value)
    self.assertNotAllClose(local[0], local[1])
    batch_norm.average_moving_statistics(self.model)
    for v, mean in zip(variables, means):
      for copy in self.strategy.experimental_local_results(v.value):
        self.assertAllClose(copy, mean, atol=1e-7)

  def test_checkpoint_keeps_mean_statistics(self):
    model = self.model
    self._train_statistics()
    means = [v.numpy() for v in model.non_trainable_variables]
    path = tf.train.Checkpoint(model=model).save(
      os.path.join(self.get_temp_dir(), 'ckpt')
    )
    restored = registry.build_network('tiny', CLASSES, SHAPE).model
    tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
    for v, mean in zip(restored.non_trainable_variables, means):
      self.assertAllClose(v.numpy(), mean)
    for v, src in zip(restored.trainable_variables, model.trainable_variables):
      self.assertAllEqual(v.numpy(), src.numpy())


if __name__ == '__main__':
  tf.test.main()
