"""Every network honours the registry's contract (shapes, layers, BN calls).

One build per network (the big ones are slow to build); the checks are split
into helper methods that all run on it.
"""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.models import registry

# (name, image shape, feature_dim, default wd, decays kernels only). Big
# networks run at 8x8 so their forward passes stay cheap.
CASES = (
  ('tiny', (28, 28, 1), 128, 5e-4, False),
  ('resnet29', (16, 16, 3), 256, 1e-4, True),
  ('wrn28-10', (8, 8, 3), 640, 5e-4, False),
  ('preact_resnet18', (8, 8, 3), 512, 5e-4, False),
  ('resnet50', (8, 8, 3), 2048, 4e-4, False),
)
NUM_CLASSES = 7
BATCH = 2


def _values(variables):
  return [tf.identity(v.value) for v in variables]


class NetworkContractTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters((c[0], *c) for c in CASES)
  def test_contract(self, name, shape, feature_dim, wd, kernels_only):
    net = registry.build_network(name, NUM_CLASSES, shape)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.uniform(-1, 1, (BATCH, *shape)), tf.float32)
    self._check_structure(net, feature_dim, wd, kernels_only)
    eval_logits = self._check_stateless_call(net.model, x)
    self._check_encoder_then_classifier(net, x, eval_logits)

  def _check_structure(self, net, feature_dim, wd, kernels_only):
    model, encoder = net.model, net.encoder
    self.assertEqual(net.feature_dim, feature_dim)
    self.assertEqual(model.output_shape, (None, NUM_CLASSES))
    self.assertEqual(encoder.output_shape, (None, feature_dim))
    # model == encoder followed by ONE dense 'classifier'.
    self.assertLen(model.layers, 3)  # Input, encoder, classifier.
    classifier = model.layers[-1]
    self.assertEqual(classifier.name, 'classifier')
    self.assertIsInstance(classifier, keras.layers.Dense)
    self.assertEqual(tuple(classifier.kernel.shape), (feature_dim, NUM_CLASSES))
    self.assertIs(model.layers[-2], encoder)

    # Shared variables: the model's are the encoder's plus the classifier's.
    model_ids = [id(v) for v in model.trainable_variables]
    parts = encoder.trainable_variables + classifier.trainable_variables
    self.assertEqual(model_ids, [id(v) for v in parts])
    self.assertEqual(
      [id(v) for v in model.non_trainable_variables],
      [id(v) for v in encoder.non_trainable_variables],
    )

    # Decay mask: aligned with trainable_variables; kernels-only networks
    # decay exactly the conv / dense kernels (checked by variable path).
    self.assertLen(net.decay_mask, len(model.trainable_variables))
    expected = [
      v.path.endswith('/kernel') if kernels_only else True
      for v in model.trainable_variables
    ]
    self.assertEqual(list(net.decay_mask), expected)
    self.assertAlmostEqual(net.weight_decay, wd)

  def _check_stateless_call(self, model, x):
    trainable = _values(model.trainable_variables)
    non_trainable = _values(model.non_trainable_variables)
    before = _values(model.variables)

    train_logits, new_nt = model.stateless_call(
      trainable, non_trainable, x, training=True
    )
    eval_logits, same_nt = model.stateless_call(
      trainable, non_trainable, x, training=False
    )
    self.assertEqual(train_logits.shape, (BATCH, NUM_CLASSES))
    self.assertEqual(train_logits.dtype, tf.float32)
    # No variable was written, by either call.
    for v, old in zip(model.variables, before):
      self.assertAllEqual(v.value, old, msg=v.path)
    # training=True returns updated moving statistics; False returns them as
    # is. (Only variances are compared: in resnet29 a BN can see a zero-mean
    # batch by design, a linear 1x1 conv of the previous BN's output.)
    self.assertLen(new_nt, len(non_trainable))
    for v, new, old in zip(
      model.non_trainable_variables, new_nt, non_trainable
    ):
      if v.path.endswith('moving_variance'):
        self.assertNotAllClose(new, old, msg=v.path)
    for same, old in zip(same_nt, non_trainable):
      self.assertAllEqual(same, old)
    # Batch statistics (fresh moving mean 0 / variance 1) differ from moving.
    self.assertNotAllClose(train_logits, eval_logits)

    # training=False really reads the moving statistics it is given, and
    # assigning them makes the plain call agree.
    moved_logits, _ = model.stateless_call(trainable, new_nt, x, training=False)
    self.assertNotAllClose(moved_logits, eval_logits)
    for v, value in zip(model.non_trainable_variables, new_nt):
      v.assign(value)
    self.assertAllClose(
      model(x, training=False), moved_logits, atol=1e-5, rtol=1e-5
    )
    for v, value in zip(model.non_trainable_variables, non_trainable):
      v.assign(value)
    return eval_logits

  def _check_encoder_then_classifier(self, net, x, eval_logits):
    features = net.encoder(x, training=False)
    self.assertEqual(features.shape, (BATCH, net.feature_dim))
    logits = net.model.layers[-1](features)
    self.assertAllClose(logits, eval_logits, atol=1e-5, rtol=1e-5)


if __name__ == '__main__':
  tf.test.main()
