"""stateless_call and its gradient compile with XLA (jit_compile) on CPU."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.models import registry


def _loss(model, trainable, non_trainable, x, y):
  logits, new_nt = model.stateless_call(
    trainable, non_trainable, x, training=True
  )
  ce = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
  return tf.reduce_mean(ce), (logits, new_nt)


class ModelXlaTest(tf.test.TestCase, parameterized.TestCase):
  # jit_compile=True fails loudly if anything cannot be compiled, so agreement
  # with the eager result is the whole check. resnet29 only runs forward:
  # compiling its backward pass on CPU takes tens of seconds.
  @parameterized.named_parameters(
    ('tiny', 'tiny', True), ('resnet29', 'resnet29', False)
  )
  def test_jit_matches_eager(self, name, with_gradient):
    shape = (8, 8, 3)
    model = registry.build_network(name, 5, shape).model
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-1, 1, (4, *shape)), tf.float32)
    y = tf.constant([0, 1, 2, 4])

    def step(trainable, non_trainable, x, y):
      with tf.GradientTape() as tape:
        tape.watch(trainable)
        loss, (logits, new_nt) = _loss(model, trainable, non_trainable, x, y)
      if not with_gradient:
        return logits, new_nt
      return logits, new_nt, tape.gradient(loss, trainable)

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    got = tf.function(step, jit_compile=True)(trainable, non_trainable, x, y)
    want = step(trainable, non_trainable, x, y)
    self.assertLen(tf.nest.flatten(got), len(tf.nest.flatten(want)))
    for g, w in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
      self.assertAllClose(g, w, rtol=1e-4, atol=1e-5)


if __name__ == '__main__':
  tf.test.main()
