"""Warm-up diagnostics (linear probe, GMM AUC), feature extraction, inputs."""

import numpy as np
import tensorflow as tf

from ieg_tf.augment import views
from ieg_tf.models.registry import build_network
from ieg_tf.pretrain import diagnostics
from ieg_tf.pretrain import input as input_lib
from ieg_tf.runtime import devices
from tests.pretrain import fixtures

devices.ensure_logical_cpus(2)


def _blobs(n, seed, noise_rate=0.0):
  """3 well-separated Gaussian classes in 4-D; a fraction relabelled."""
  rng = np.random.default_rng(seed)
  clean = rng.integers(0, 3, n)
  x = np.eye(3, 4)[clean] * 6.0 + rng.normal(size=(n, 4))
  flip = rng.random(n) < noise_rate
  given = np.where(flip, (clean + rng.integers(1, 3, n)) % 3, clean)
  return x.astype(np.float32), given, clean


class DiagnosticsMathTest(tf.test.TestCase):
  def test_linear_probe_on_separable_features(self):
    x, _, y = _blobs(200, 0)
    tx, _, ty = _blobs(100, 1)
    self.assertGreater(diagnostics.linear_probe_top1(x, y, tx, ty), 0.97)
    # Labels unrelated to the features: about chance (1/3).
    rng = np.random.default_rng(2)
    chance = diagnostics.linear_probe_top1(
      x, rng.integers(0, 3, 200), tx, rng.integers(0, 3, 100)
    )
    self.assertLess(chance, 0.6)

  def test_gmm_posterior_follows_the_low_loss_mode(self):
    losses = np.concatenate([np.full(50, 0.1), np.full(50, 3.0)])
    losses += np.random.default_rng(0).normal(0, 0.05, 100)
    p = diagnostics.gmm_clean_posterior(losses)
    self.assertGreater(p[:50].min(), 0.9)
    self.assertLess(p[50:].max(), 0.1)

  def test_gmm_auc_separates_noisy_labels_on_good_features(self):
    x, given, clean = _blobs(300, 3, noise_rate=0.4)
    self.assertGreater(diagnostics.gmm_auc(x, given, clean), 0.9)
    # Features that carry no class information cannot separate them.
    rng = np.random.default_rng(4)
    noise = rng.normal(size=x.shape).astype(np.float32)
    self.assertLess(diagnostics.gmm_auc(noise, given, clean), 0.75)
    # All clean: undefined.
    self.assertTrue(np.isnan(diagnostics.gmm_auc(x, clean, clean)))


class EncodeTest(tf.test.TestCase):
  def test_features_in_row_order_with_padding_on_two_replicas(self):
    strategy = devices.cpu_mirrored_strategy(2)
    with strategy.scope():
      network = build_network('tiny', 3, (8, 8, 1))
    split = fixtures.split(7, 5)  # 7 rows, batch 4: the last step is padded.
    got = diagnostics.encode(strategy, network.encoder, split, 4)
    want = network.encoder(views.to_float(split.images), training=False)
    self.assertEqual(got.shape, (7, network.feature_dim))
    self.assertAllClose(got, want, atol=1e-5)

  def test_encoder_diagnostics_keys(self):
    network = build_network('tiny', 3, (8, 8, 1))
    strategy = tf.distribute.get_strategy()
    known = diagnostics.encoder_diagnostics(
      strategy,
      network.encoder,
      fixtures.data(),
      max_examples=40,
      global_batch=16,
      seed=0,
    )
    self.assertEqual(known['pretrain/linear_probe_labels'], 'clean')
    self.assertEqual(known['pretrain/linear_probe_examples'], 40)
    self.assertBetween(known['pretrain/linear_probe_top1'], 0.0, 1.0)
    self.assertIn('pretrain/gmm_auc', known)
    unknown = diagnostics.encoder_diagnostics(
      strategy,
      network.encoder,
      fixtures.data(clean=False),
      max_examples=40,
      global_batch=16,
      seed=0,
    )
    self.assertEqual(unknown['pretrain/linear_probe_labels'], 'given')
    self.assertNotIn('pretrain/gmm_auc', unknown)
    self.assertEqual(
      diagnostics.encoder_diagnostics(
        strategy,
        network.encoder,
        fixtures.data(),
        max_examples=0,
        global_batch=16,
        seed=0,
      ),
      {},
    )


class PairsInputTest(tf.test.TestCase):
  def test_two_different_views_per_image_per_replica_batch(self):
    strategy = devices.cpu_mirrored_strategy(2)
    split = fixtures.split(10, 6, channels=3)
    dist = strategy.distribute_datasets_from_function(
      input_lib.pairs_dataset_fn(split, 8, seed=3)
    )
    batch = next(iter(dist))
    for local in strategy.experimental_local_results(batch):
      self.assertEqual(sorted(local), ['view1', 'view2'])
      self.assertEqual(local['view1'].shape, (4, 8, 8, 3))
      self.assertAllInRange(local['view1'], -1.0, 1.0)
      self.assertNotAllClose(local['view1'], local['view2'])
    # The stream is a function of the seed.
    again = next(
      iter(
        strategy.distribute_datasets_from_function(
          input_lib.pairs_dataset_fn(split, 8, seed=3)
        )
      )
    )
    first = strategy.experimental_local_results(batch)[0]['view1']
    self.assertAllClose(
      strategy.experimental_local_results(again)[0]['view1'], first
    )


if __name__ == '__main__':
  tf.test.main()
