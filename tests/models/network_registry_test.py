"""build_network's arguments: names, defaults, and user errors."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf import config
from ieg_tf.errors import UserError
from ieg_tf.models import batch_norm
from ieg_tf.models import registry


class NetworkRegistryTest(tf.test.TestCase, parameterized.TestCase):
  def test_names_match_config(self):
    self.assertEqual(registry.NETWORK_NAMES, config.NETWORK_NAMES)

  def test_unknown_name_lists_the_choices(self):
    with self.assertRaises(UserError) as ctx:
      registry.build_network('resnet18', 10, (32, 32, 3))
    message = str(ctx.exception)
    self.assertNotIn('\n', message)
    self.assertIn('resnet18', message)
    for name in registry.NETWORK_NAMES:
      self.assertIn(name, message)

  @parameterized.named_parameters(
    ('two_dims', 10, (32, 32)),
    ('zero_side', 10, (0, 32, 3)),
    ('float_side', 10, (32.0, 32, 3)),
    ('zero_classes', 0, (32, 32, 3)),
    ('float_classes', 10.0, (32, 32, 3)),
    ('bool_classes', True, (32, 32, 3)),
  )
  def test_bad_shapes_are_user_errors(self, classes, shape):
    with self.assertRaises(UserError):
      registry.build_network('tiny', classes, shape)

  def test_nan_weight_decay_is_a_user_error(self):
    with self.assertRaises(UserError):
      registry.build_network('tiny', 10, (8, 8, 3), weight_decay=float('nan'))

  def test_weight_decay_default_and_override(self):
    net = registry.build_network('tiny', 10, (8, 8, 3))
    self.assertEqual(net.weight_decay, 5e-4)
    net = registry.build_network('tiny', 10, (8, 8, 3), weight_decay=0.0)
    self.assertEqual(net.weight_decay, 0.0)
    net = registry.build_network('resnet29', 10, (8, 8, 3), weight_decay=2e-4)
    self.assertEqual(net.weight_decay, 2e-4)

  def test_numpy_integers_are_accepted(self):
    shape = tuple(np.array([8, 8, 1]))
    net = registry.build_network('tiny', np.int64(3), shape)
    self.assertEqual(net.model.output_shape, (None, 3))
    self.assertEqual(net.model.input_shape, (None, 8, 8, 1))

  def test_clone_keeps_replica_local_batch_norm(self):
    # clone_model goes through get_config / from_config of every layer.
    model = registry.build_network('resnet29', 3, (8, 8, 3)).model
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    bn = clone.get_layer('encoder').get_layer('stem_bn')
    self.assertIsInstance(bn, batch_norm.BatchNorm)
    self.assertEqual((bn.momentum, bn.epsilon), (0.9, 1e-5))
    x = tf.random.stateless_uniform((2, 8, 8, 3), (1, 2), -1, 1)
    self.assertAllEqual(clone(x, training=False), model(x, training=False))

  @parameterized.named_parameters(
    ('resnet50_1x1', 'resnet50', (1, 1, 3)),
    ('wrn_odd', 'wrn28-10', (7, 5, 3)),
    ('preact_odd', 'preact_resnet18', (5, 5, 3)),
    ('resnet29_odd', 'resnet29', (9, 3, 1)),
    ('tiny_1x1', 'tiny', (1, 1, 1)),
  )
  def test_small_and_odd_images_work(self, name, shape):
    model = registry.build_network(name, 3, shape).model
    x = tf.zeros((2, *shape))
    self.assertEqual(model(x, training=False).shape, (2, 3))


if __name__ == '__main__':
  tf.test.main()
