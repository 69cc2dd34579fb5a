"""Per-example losses and THE loss-scaling rule. Pure functions, no variables.

The scaling rule (the only one in the project): every training loss is a sum of
per-example losses divided by the GLOBAL batch size, computed per replica; the
replicas' gradients are then SUMMED. One replica with batch 8 and two replicas
with batch 4 each therefore produce the same update. Terms that are already a
per-replica mean by construction (IEG's normalized meta weights, batch-level
regularizers) are divided by the number of replicas instead, which is the same
rule for a per-replica mean. See `scale_to_global`.
"""

import tensorflow as tf


def scale_to_global(per_example: tf.Tensor, global_batch: int) -> tf.Tensor:
  """Sum of per-example losses over the GLOBAL batch (replica context).

  Args:
    per_example: float [B_local] losses of this replica's examples.
    global_batch: examples in one step across all replicas.

  Returns:
    Scalar: sum(per_example) / global_batch. Summed over replicas it is the
    global mean.
  """
  return tf.reduce_sum(per_example) / tf.cast(global_batch, per_example.dtype)


def scale_replica_mean(value: tf.Tensor, num_replicas: int) -> tf.Tensor:
  """A term that is already a mean over the local batch, divided by replicas.

  Args:
    value: scalar, a per-replica mean (or a batch-independent term such as
      weight decay).
    num_replicas: replicas in sync.

  Returns:
    value / num_replicas; summed over replicas it is the replicas' mean.
  """
  return value / tf.cast(num_replicas, value.dtype)


def sparse_cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
  """Softmax cross-entropy with integer labels.

  Args:
    labels: int [B] class ids.
    logits: float [B, C].

  Returns:
    float [B] per-example loss.
  """
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
    labels=tf.cast(labels, tf.int32), logits=logits
  )


def soft_cross_entropy(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
  """Cross-entropy -sum(t * log_softmax(z)) with soft targets, differentiable in t.

  Unlike `tf.nn.softmax_cross_entropy_with_logits` this lets gradients flow
  into `targets`, which IEG's look-ahead needs (the pseudo-label depends on the
  parameters and the label mix on eps).

  Args:
    targets: float [B, C], rows summing to 1.
    logits: float [B, C].

  Returns:
    float [B] per-example loss.
  """
  return -tf.reduce_sum(targets * tf.nn.log_softmax(logits, axis=-1), axis=-1)


def generalized_cross_entropy(
  labels: tf.Tensor, logits: tf.Tensor, q: float
) -> tf.Tensor:
  """GCE (Zhang & Sabuncu 2018): (1 - p_y^q) / q, between CE (q->0) and MAE (q=1).

  Args:
    labels: int [B] class ids.
    logits: float [B, C].
    q: exponent in (0, 1].

  Returns:
    float [B] per-example loss.
  """
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  log_p_y = tf.gather(log_probs, tf.cast(labels, tf.int32), batch_dims=1)
  return (1.0 - tf.exp(q * log_p_y)) / q


def kl_consistency(
  target_logits: tf.Tensor, student_logits: tf.Tensor
) -> tf.Tensor:
  """KL(softmax(target) || softmax(student)) per example; target is constant.

  Args:
    target_logits: float [B, C], the weak view (gradient stopped here).
    student_logits: float [B, C], the strong view (gradient flows).

  Returns:
    float [B] per-example KL divergence.
  """
  target_logits = tf.stop_gradient(target_logits)
  log_q = tf.nn.log_softmax(target_logits, axis=-1)
  log_p = tf.nn.log_softmax(student_logits, axis=-1)
  return tf.reduce_sum(tf.exp(log_q) * (log_q - log_p), axis=-1)


def l2_penalty(params, decay_mask, weight_decay: float) -> tf.Tensor:
  """Weight decay as an explicit loss: wd * sum_v 0.5 * ||v||^2 over decayed v.

  Args:
    params: list of float tensors (the trainable parameters, or theta').
    decay_mask: list of bools aligned with `params`; False = not decayed.
    weight_decay: the coefficient wd.

  Returns:
    Scalar penalty in the params' dtype (0 when nothing is decayed).
  """
  params = list(params)
  dtype = params[0].dtype if params else tf.float32
  terms = [tf.reduce_sum(tf.square(p)) for p, m in zip(params, decay_mask) if m]
  if not terms:
    return tf.zeros([], dtype)
  # tf.constant, not tf.cast: casting a Python float to float64 rounds it
  # through float32 first.
  wd = weight_decay
  if not isinstance(wd, tf.Tensor):
    wd = tf.constant(wd, dtype)
  return 0.5 * tf.cast(wd, dtype) * tf.add_n(terms)
