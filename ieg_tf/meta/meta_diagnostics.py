"""Per-replica diagnostics of meta re-weighting / re-labeling (pure).

Means over the local batch; the runtime averages them over replicas and
steps. Clean-label metrics are only computed when the batch carries the true
labels (synthetic noise); they never feed the loss.
"""

import tensorflow as tf


def _masked_mean(values, mask):
  mask = tf.cast(mask, tf.float32)
  return tf.math.divide_no_nan(
    tf.reduce_sum(tf.cast(values, tf.float32) * mask), tf.reduce_sum(mask)
  )


def weight_metrics(weights: tf.Tensor, batch: dict, clean_known: bool) -> dict:
  """Statistics of meta weights w* for one replica.

  Args:
    weights: float [B] normalized weights w*.
    batch: the train batch (reads 'is_noisy' when `clean_known`).
    clean_known: whether the batch has true labels.

  Returns:
    {'weights/mean', 'weights/zero_fraction'} and, with clean labels,
    {'weights/clean_mean', 'weights/noisy_mean'} (float32 scalars).
  """
  w = tf.cast(weights, tf.float32)
  out = {
    'weights/mean': tf.reduce_mean(w),
    'weights/zero_fraction': tf.reduce_mean(tf.cast(w <= 0.0, tf.float32)),
  }
  if clean_known:
    noisy = batch['is_noisy']
    out['weights/clean_mean'] = _masked_mean(w, tf.logical_not(noisy))
    out['weights/noisy_mean'] = _masked_mean(w, noisy)
  return out


def relabel_metrics(
  eps: tf.Tensor, pseudo_labels: tf.Tensor, batch: dict, clean_known: bool
) -> dict:
  """Statistics of the binary re-labeling eps* for one replica.

  Args:
    eps: float [B] eps* in {0, 1}; 0 = the given label is replaced by g.
    pseudo_labels: float [B, C] g.
    batch: the train batch ('is_noisy', 'clean_label' when `clean_known`).
    clean_known: whether the batch has true labels.

  Returns:
    {'relabel/replaced_fraction'} and, with clean labels,
    {'relabel/precision' (replaced examples that were noisy),
    'relabel/recall' (noisy examples that were replaced),
    'pseudo/accuracy' (argmax g == true label)}.
  """
  replaced = tf.cast(eps, tf.float32) < 0.5
  out = {
    'relabel/replaced_fraction': tf.reduce_mean(tf.cast(replaced, tf.float32))
  }
  if clean_known:
    noisy = batch['is_noisy']
    out['relabel/precision'] = _masked_mean(noisy, replaced)
    out['relabel/recall'] = _masked_mean(replaced, noisy)
    guess = tf.argmax(pseudo_labels, axis=-1, output_type=tf.int32)
    out['pseudo/accuracy'] = tf.reduce_mean(
      tf.cast(tf.equal(guess, batch['clean_label']), tf.float32)
    )
  return out
