"""NT-Xent (SimCLR) loss with negatives gathered across all replicas.

Pure leaf functions: tensors in, tensors out, no variables, no flags.

Per replica r of R with n local pairs (global batch N = n R): the local
L2-normalized projections h1, h2 [n, d] of the two views and their gathered
copies H1, H2 [N, d] (rows r n .. r n + n - 1 are the local ones). Local row i
has global index g = r n + i. With temperature tau,
  ab = h1 H2^T / tau,  aa = h1 H1^T / tau with column g masked out,
  loss_a(i) = CE(target g, [ab | aa]),
and symmetrically loss_b(i) from h2 (ba, bb). Each anchor thus has one
positive and 2N - 2 negatives from the GLOBAL batch, and both directions are
summed: per_pair(i) = loss_a(i) + loss_b(i). The training loss follows the
project's one scaling rule (`ieg_tf/meta/losses.py`): sum of per-pair losses
over the local pairs divided by the GLOBAL batch N, gradients summed over
replicas, which equals SimCLR's mean over pairs of (loss_a + loss_b).

The gather (`gather_replicas`) is the only collective and is kept out of the
loss math, so the math can be XLA-compiled on its own on CPU/GPU replicas
(a collective inside an XLA function fails under MirroredStrategy).
"""

import tensorflow as tf

# Logit subtracted from an anchor's similarity with itself (SimCLR's 1e9).
_LARGE_NUM = 1e9


def gather_replicas(local: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """Concatenates every replica's `local` along axis 0 (replica context).

  Gradients flow back through the gather (the replica context's all_gather
  sums the incoming gradients over replicas and slices out this replica's
  rows), so negatives held by other replicas also train this replica's
  encoder. Every replica must pass the same number of rows (the input
  pipeline drops remainders).

  Args:
    local: float [n, d], this replica's rows.

  Returns:
    (gathered float [n R, d] in replica order, int32 scalar offset r n of
    this replica's first row). With one replica: (local, 0).
  """
  ctx = tf.distribute.get_replica_context()
  if ctx is None:
    raise ValueError('gather_replicas must run in a replica context')
  if ctx.num_replicas_in_sync == 1:
    return local, tf.constant(0, tf.int32)
  gathered = ctx.all_gather(local, axis=0)
  replica = tf.cast(ctx.replica_id_in_sync_group, tf.int32)
  return gathered, replica * tf.shape(local)[0]


def nt_xent_per_pair(
  h1: tf.Tensor,
  h2: tf.Tensor,
  all_h1: tf.Tensor,
  all_h2: tf.Tensor,
  offset: tf.Tensor,
  temperature: float,
) -> tuple[tf.Tensor, dict]:
  """Per-pair NT-Xent loss of the local pairs against the global batch.

  Args:
    h1: float32 [n, d] L2-normalized projections of the local first views.
    h2: float32 [n, d] the local second views (row i pairs with h1[i]).
    all_h1: float32 [N, d] the first views of every replica (gathered);
      rows offset .. offset + n - 1 are h1.
    all_h2: float32 [N, d] likewise for the second views.
    offset: int32 scalar, global index of local row 0.
    temperature: tau > 0.

  Returns:
    (per_pair float32 [n] = loss_a + loss_b, metrics) where metrics holds
    float32 scalars over the local pairs: 'contrast_acc' (fraction of first
    views whose most similar second view is their own) and
    'contrast_entropy' (mean entropy of softmax(ab)).
  """
  n = tf.shape(h1)[0]
  big_n = tf.shape(all_h1)[0]
  targets = tf.range(n, dtype=tf.int32) + tf.cast(offset, tf.int32)
  self_mask = tf.one_hot(targets, big_n, dtype=h1.dtype) * _LARGE_NUM
  inv_tau = 1.0 / temperature
  ab = tf.matmul(h1, all_h2, transpose_b=True) * inv_tau
  aa = tf.matmul(h1, all_h1, transpose_b=True) * inv_tau - self_mask
  ba = tf.matmul(h2, all_h1, transpose_b=True) * inv_tau
  bb = tf.matmul(h2, all_h2, transpose_b=True) * inv_tau - self_mask
  loss_a = tf.nn.sparse_softmax_cross_entropy_with_logits(
    labels=targets, logits=tf.concat([ab, aa], axis=1)
  )
  loss_b = tf.nn.sparse_softmax_cross_entropy_with_logits(
    labels=targets, logits=tf.concat([ba, bb], axis=1)
  )
  pred = tf.argmax(ab, axis=1, output_type=tf.int32)
  probs = tf.nn.softmax(ab, axis=1)
  entropy = -tf.reduce_sum(probs * tf.nn.log_softmax(ab, axis=1), axis=1)
  metrics = {
    'contrast_acc': tf.reduce_mean(tf.cast(tf.equal(pred, targets), h1.dtype)),
    'contrast_entropy': tf.reduce_mean(entropy),
  }
  return loss_a + loss_b, metrics


def l2_normalize_rows(z: tf.Tensor) -> tf.Tensor:
  """float [B, d] -> rows scaled to unit L2 norm (SimCLR's hidden_norm)."""
  return tf.math.l2_normalize(z, axis=1)


def cross_replica_nt_xent(
  z1: tf.Tensor, z2: tf.Tensor, temperature: float
) -> tuple[tf.Tensor, dict]:
  """NT-Xent of raw projections, negatives from all replicas (replica ctx).

  Convenience composition of `l2_normalize_rows`, `gather_replicas` and
  `nt_xent_per_pair` for callers that need no XLA split.

  Args:
    z1: float32 [n, d] projections of the local first views (unnormalized).
    z2: float32 [n, d] projections of the local second views.
    temperature: tau > 0.

  Returns:
    As `nt_xent_per_pair`.
  """
  h1, h2 = l2_normalize_rows(z1), l2_normalize_rows(z2)
  all_h1, offset = gather_replicas(h1)
  all_h2, _ = gather_replicas(h2)
  return nt_xent_per_pair(h1, h2, all_h1, all_h2, offset, temperature)
