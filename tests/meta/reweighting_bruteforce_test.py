"""Brute force: after a short run on separable blobs with 30% flipped labels,
the meta step gives flipped examples lower weights than clean ones, and IEG's
relabeling prefers the pseudo-label for them; Meta-Weight-Net's MLP, trained
by its meta gradient alone, learns to do the same from the losses."""

import numpy as np
import tensorflow as tf

from ieg_tf.meta import ieg_math
from ieg_tf.meta import l2r_math
from ieg_tf.meta import mwnet
from tests.meta import tiny_net

_CLASSES = 3
_CENTERS = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
_FLIP_RATE = 0.3
_BATCH = 32


def _blobs(rng, n):
  labels = rng.integers(0, _CLASSES, n)
  points = _CENTERS[labels] + rng.normal(0.0, 0.5, (n, 2))
  return points.astype(np.float32), labels.astype(np.int32)


def _flip(rng, labels):
  flipped = rng.random(len(labels)) < _FLIP_RATE
  # A flipped label is one of the OTHER classes.
  offset = rng.integers(1, _CLASSES, len(labels))
  noisy = np.where(flipped, (labels + offset) % _CLASSES, labels)
  return noisy.astype(np.int32), flipped


class BruteForceReweightingTest(tf.test.TestCase):
  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    rng = np.random.default_rng(2024)
    x, clean = _blobs(rng, 640)
    noisy, flipped = _flip(rng, clean)
    probe_x, probe_y = _blobs(rng, _BATCH)
    params = tiny_net.init_params(rng, 2, 8, _CLASSES, tf.float32)

    @tf.function
    def sgd_step(params, xb, yb):
      with tf.GradientTape() as tape:
        tape.watch(params)
        logits = tiny_net.forward(params, xb)
        loss = tf.reduce_mean(
          tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits)
        )
      grads = tape.gradient(loss, params)
      return [p - 0.3 * g for p, g in zip(params, grads)]

    # A short plain-SGD run on the NOISY labels: a small network on
    # separable blobs learns the majority (true) class of each blob.
    for step in range(150):
      idx = rng.choice(len(x), _BATCH, replace=False)
      params = sgd_step(params, x[idx], noisy[idx])

    cls.params = params
    cls.batches = [
      (x[i : i + _BATCH], noisy[i : i + _BATCH], flipped[i : i + _BATCH])
      for i in range(0, len(x) // 2, _BATCH)
    ]
    cls.probe = (tf.constant(probe_x), tf.constant(probe_y))
    cls.jitter = rng.normal(0.0, 0.1, x[:_BATCH].shape).astype(np.float32)
    preds = tf.argmax(tiny_net.forward(params, x), -1).numpy()
    cls.train_accuracy_vs_clean = np.mean(preds == clean)

  def _collect(self, meta_fn):
    weights, eps, is_flipped = [], [], []
    for xb, yb, fb in self.batches:
      w, e = meta_fn(tf.constant(xb), tf.constant(yb))
      weights.append(w.numpy())
      eps.append(e.numpy() if e is not None else np.zeros(len(yb)))
      is_flipped.append(fb)
    return (
      np.concatenate(weights),
      np.concatenate(eps),
      np.concatenate(is_flipped),
    )

  def test_the_short_run_learned_the_true_classes(self):
    self.assertGreater(self.train_accuracy_vs_clean, 0.9)

  def test_ieg_downweights_and_relabels_flipped_examples(self):
    probe_x, probe_y = self.probe

    def meta_fn(xb, yb):
      out = ieg_math.ieg_meta_step(
        tiny_net.forward,
        self.params,
        None,
        view_images=[xb, xb + self.jitter],
        labels=yb,
        probe_images=probe_x,
        probe_labels=probe_y,
        meta_stepsize=0.1,
        meta_momentum=0.0,
        grad_eps_init=0.9,
        temperature=0.5,
        weight_decay=1e-4,
      )
      return out.weights, out.eps

    w, eps, flipped = self._collect(meta_fn)
    self.assertGreater(flipped.sum(), 60)
    clean_w, flipped_w = w[~flipped].mean(), w[flipped].mean()
    # Uniform weights would be 1/32 for both; flipped ones get < 1/4 of it.
    self.assertLess(flipped_w, 0.25 * clean_w)
    # For a clean example g and y nearly agree, so its eps* is close to a
    # coin flip; for a flipped one the pseudo-label wins almost always
    # (observed: 0.99 vs 0.69 with ~90 flipped examples, standard error 0.05).
    uses_pseudo = eps == 0.0
    self.assertGreater(uses_pseudo[flipped].mean(), 0.9)
    self.assertGreater(
      uses_pseudo[flipped].mean() - uses_pseudo[~flipped].mean(), 0.2
    )

  def test_l2r_downweights_flipped_examples(self):
    probe_x, probe_y = self.probe

    def meta_fn(xb, yb):
      out = l2r_math.l2r_meta_step(
        tiny_net.forward,
        self.params,
        images=xb,
        labels=yb,
        probe_images=probe_x,
        probe_labels=probe_y,
        meta_stepsize=0.1,
        weight_decay=1e-4,
      )
      return out.weights, None

    w, _, flipped = self._collect(meta_fn)
    self.assertLess(w[flipped].mean(), 0.25 * w[~flipped].mean())
    # Most flipped examples are clipped to exactly zero.
    self.assertGreater(np.mean(w[flipped] == 0.0), 0.8)

  def test_mwnet_learns_to_downweight_flipped_examples(self):
    probe_x, probe_y = self.probe

    @tf.function
    def meta_grads(mw, xb, yb):
      return mwnet.mwnet_meta_gradients(
        tiny_net.forward,
        self.params,
        None,
        mw,
        images=xb,
        labels=yb,
        probe_images=probe_x,
        probe_labels=probe_y,
        meta_stepsize=0.1,
        weight_decay=1e-4,
      ).meta_grads

    def weights(mw):
      def meta_fn(xb, yb):
        logits = tiny_net.forward(self.params, xb)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits)
        return mwnet.mwnet_weights(mw, ce), None

      w, _, flipped = self._collect(meta_fn)
      return w[flipped].mean(), w[~flipped].mean()

    mw = mwnet.mwnet_init(tf.constant([1, 2]), hidden=16)
    flipped_w, clean_w = weights(mw)
    # The untrained MLP barely tells them apart ...
    self.assertGreater(flipped_w, 0.8 * clean_w)
    # ... two passes of plain SGD on the MLP's meta gradient (the classifier
    # stays fixed) teach it that a high loss means a wrong label (observed:
    # flipped / clean ~ 0.02).
    for _ in range(2):
      for xb, yb, _ in self.batches:
        grads = meta_grads(mw, tf.constant(xb), tf.constant(yb))
        mw = [p - 10.0 * g for p, g in zip(mw, grads)]
    flipped_w, clean_w = weights(mw)
    self.assertLess(flipped_w, 0.25 * clean_w)


if __name__ == '__main__':
  tf.test.main()
