"""Projection head: SimCLR layout, configurable depth and width."""

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from ieg_tf.models import batch_norm
from ieg_tf.models.projection_head import build_projection_head


class ProjectionHeadTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((1, 16), (2, 8), (3, 4))
  def test_layout(self, num_layers, out_dim):
    head = build_projection_head(6, num_layers, out_dim)
    dense = [x for x in head.layers if isinstance(x, keras.layers.Dense)]
    bns = [x for x in head.layers if isinstance(x, batch_norm.BatchNorm)]
    relus = [x for x in head.layers if isinstance(x, keras.layers.ReLU)]
    self.assertLen(dense, num_layers)
    self.assertLen(bns, num_layers)
    self.assertLen(relus, num_layers - 1)
    # Hidden layers keep the input width; the last maps to out_dim.
    self.assertEqual(
      [d.units for d in dense], [6] * (num_layers - 1) + [out_dim]
    )
    self.assertTrue(all(not d.use_bias for d in dense))
    # BN shift everywhere except on the output (SimCLR: no beta there).
    self.assertEqual(
      [bn.center for bn in bns], [True] * (num_layers - 1) + [False]
    )
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    y = head(x, training=True)
    self.assertEqual(tuple(y.shape), (5, out_dim))
    # Training-mode output of the last BN (gamma 1, no beta): zero mean.
    self.assertAllClose(
      np.mean(y.numpy(), axis=0), np.zeros(out_dim), atol=1e-5
    )

  def test_kernel_init_is_small(self):
    keras.utils.set_random_seed(0)
    head = build_projection_head(64, 2, 32)
    kernel = head.get_layer('proj_dense0').kernel.numpy()
    self.assertBetween(float(np.std(kernel)), 0.008, 0.012)

  def test_bad_sizes_raise(self):
    with self.assertRaises(ValueError):
      build_projection_head(4, 0, 8)
    with self.assertRaises(ValueError):
      build_projection_head(4, 2, 0)


if __name__ == '__main__':
  tf.test.main()
