"""NT-Xent against a numpy oracle; 2 replicas == 1 replica (loss and grads)."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.pretrain import nt_xent
from ieg_tf.pretrain.step import ContrastiveStep
from ieg_tf.runtime import devices

devices.ensure_logical_cpus(2)


def _normalize(x):
  return x / np.linalg.norm(x, axis=1, keepdims=True)


def _oracle(z1, z2, tau):
  """SimCLR over 2N anchors: anchor k's positive is its other view, its
  negatives the 2N - 2 other rows. Returns per pair (loss_a + loss_b),
  contrast accuracy and the mean entropy of softmax(h1 h2^T / tau)."""
  n = len(z1)
  h = _normalize(np.concatenate([z1, z2]).astype(np.float64))
  sim = h @ h.T / tau
  per_anchor = np.zeros(2 * n)
  for k in range(2 * n):
    pos = (k + n) % (2 * n)
    others = np.delete(sim[k], k)
    top = others.max()
    per_anchor[k] = -sim[k, pos] + top + np.log(np.exp(others - top).sum())
  ab = sim[:n, n:]
  acc = np.mean(np.argmax(ab, axis=1) == np.arange(n))
  p = np.exp(ab - ab.max(axis=1, keepdims=True))
  p /= p.sum(axis=1, keepdims=True)
  entropy = np.mean(-(p * np.log(p)).sum(axis=1))
  return per_anchor[:n] + per_anchor[n:], acc, entropy


class NtXentOracleTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((0.5, 6), (0.1, 8), (1.0, 2))
  def test_matches_numpy_oracle(self, tau, n):
    rng = np.random.default_rng(n)
    z1 = rng.normal(size=(n, 5)).astype(np.float32)
    z2 = (z1 + 0.3 * rng.normal(size=(n, 5))).astype(np.float32)
    want, want_acc, want_entropy = _oracle(z1, z2, tau)
    per_pair, metrics = nt_xent.cross_replica_nt_xent(z1, z2, tau)
    self.assertAllClose(per_pair, want, rtol=1e-4, atol=1e-4)
    self.assertAllClose(metrics['contrast_acc'], want_acc)
    self.assertAllClose(metrics['contrast_entropy'], want_entropy, atol=1e-4)

  def test_local_rows_against_gathered_batch(self):
    # Two "replicas" of 3 pairs each, scored against the gathered 6: the
    # concatenated per-pair losses are the oracle's for the whole batch.
    rng = np.random.default_rng(3)
    z1, z2 = rng.normal(size=(2, 6, 4)).astype(np.float32)
    want, _, _ = _oracle(z1, z2, 0.5)
    h1 = nt_xent.l2_normalize_rows(z1)
    h2 = nt_xent.l2_normalize_rows(z2)
    got = [
      nt_xent.nt_xent_per_pair(
        h1[r * 3 : r * 3 + 3], h2[r * 3 : r * 3 + 3], h1, h2, r * 3, 0.5
      )[0]
      for r in range(2)
    ]
    self.assertAllClose(tf.concat(got, 0), want, rtol=1e-4, atol=1e-4)

  def test_gradient_matches_finite_differences(self):
    rng = np.random.default_rng(4)
    z = tf.constant(rng.normal(size=(8, 3)), tf.float64)

    def loss(z):
      per_pair, _ = nt_xent.cross_replica_nt_xent(z[:4], z[4:], 0.5)
      return tf.reduce_sum(per_pair)

    theoretical, numerical = tf.test.compute_gradient(loss, [z])
    self.assertAllClose(theoretical[0], numerical[0], atol=1e-5)

  def test_identical_views_with_far_negatives_give_small_loss(self):
    z = np.eye(4, dtype=np.float32) * 3.0
    per_pair, metrics = nt_xent.cross_replica_nt_xent(z, z, 0.05)
    self.assertAllLess(per_pair, 1e-6)
    self.assertAllClose(metrics['contrast_acc'], 1.0)


def _linear_forward(params, non_trainable, images, training):
  """A BN-free stand-in for encoder + head: flatten(images) @ W."""
  del training
  flat = tf.reshape(images, [tf.shape(images)[0], -1])
  return tf.matmul(flat, params[0]), list(non_trainable)


def _step_results(strategy, views, w, jit):
  """Per-replica grads SUMMED (what LARS applies), loss and metrics."""
  replicas = strategy.num_replicas_in_sync
  n = views['view1'].shape[0] // replicas
  step = ContrastiveStep(
    _linear_forward,
    temperature=0.5,
    global_batch=views['view1'].shape[0],
    jit_compile=jit,
  )

  def shard(ctx):
    r = ctx.replica_id_in_sync_group
    return {k: v[r * n : (r + 1) * n] for k, v in views.items()}

  batch = strategy.experimental_distribute_values_from_function(shard)

  def replica_fn(b):
    out = step.compute([tf.constant(w)], [], b)
    return out.grads[0], out.metrics['pretrain/loss']

  @tf.function
  def run(b):
    grads, loss = strategy.run(replica_fn, args=(b,))
    return (
      strategy.reduce(tf.distribute.ReduceOp.SUM, grads, axis=None),
      strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None),
    )

  grad, loss = run(batch)
  return grad.numpy(), float(loss)


class ReplicaInvarianceTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(False, True)
  def test_two_replicas_equal_one_replica(self, jit):
    rng = np.random.default_rng(7)
    views = {
      'view1': rng.normal(size=(8, 2, 2, 3)).astype(np.float32),
      'view2': rng.normal(size=(8, 2, 2, 3)).astype(np.float32),
    }
    w = rng.normal(size=(12, 5)).astype(np.float32)
    one_grad, one_loss = _step_results(
      tf.distribute.get_strategy(), views, w, jit
    )
    mirrored = devices.cpu_mirrored_strategy(2)
    self.assertEqual(mirrored.num_replicas_in_sync, 2)
    two_grad, two_loss = _step_results(mirrored, views, w, jit)
    self.assertAllClose(two_grad, one_grad, rtol=1e-4, atol=1e-6)
    self.assertAllClose(two_loss, one_loss, rtol=1e-5)
    # The metric is the oracle's mean over pairs of (loss_a + loss_b).
    z1 = views['view1'].reshape(8, -1) @ w
    z2 = views['view2'].reshape(8, -1) @ w
    self.assertAllClose(one_loss, np.mean(_oracle(z1, z2, 0.5)[0]), rtol=1e-4)
    # The gradient is of sum(per pair) / GLOBAL batch: scale-check it
    # against finite differences of the oracle's mean in one direction.
    direction = rng.normal(size=w.shape)
    eps = 1e-3

    def oracle_mean(wv):
      a = views['view1'].reshape(8, -1).astype(np.float64) @ wv
      b = views['view2'].reshape(8, -1).astype(np.float64) @ wv
      return np.mean(_oracle(a, b, 0.5)[0])

    fd = (
      oracle_mean(w + eps * direction) - oracle_mean(w - eps * direction)
    ) / (2 * eps)
    self.assertAllClose(np.sum(one_grad * direction), fd, rtol=1e-3)

  def test_gather_outside_replica_context_fails(self):
    strategy = devices.cpu_mirrored_strategy(2)
    with strategy.scope():
      with self.assertRaises(ValueError):
        nt_xent.gather_replicas(tf.zeros([2, 2]))


if __name__ == '__main__':
  tf.test.main()
