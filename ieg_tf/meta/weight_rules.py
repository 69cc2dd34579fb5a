"""How per-example meta gradients become example weights (`--meta_weight_rule`).

Pure, replica context. With g_i = dL_meta/dw_i from the look-ahead, the
reference (L2R, IEG) uses w*_i = max(-g_i, 0) / sum_j max(-g_j, 0). For the
last layer, -g_i is proportional to

  sum_j (h_i . h_j) ((p_i - t_i) . (p_j - y_j))       (j over the probe batch)

(h features, p softmax, t the look-ahead target), which mixes three things:
  1. ||p_i - t_i||, the example's residual: large for examples the network
     does not fit yet, which at high noise are mostly the mislabeled ones;
  2. whether the probe under-predicts the class t_i points to, the same for
     every example carrying that label;
  3. whether x_i looks like the probe images of its label (the signal).
Measured on CIFAR-10 at 80% uniform noise with a small CNN, 1 and 2 swamp 3
(docs/experiments.md: dividing out 1 and centering 2 did not help). Rules:

  'reference'       max(-g, 0), normalized (the papers).
  'class_balanced'  max(-g, 0) divided by its mean over the slice's examples
                    with the same given label, over B: every label keeps the
                    share of the batch it has (as in supervised training),
                    and the meta-gradient only decides which of the
                    examples carrying a label get that share. A label whose
                    scores are all clipped is weighted uniformly. Why: the
                    reference's clipping drops about half the batch in a
                    class-correlated way (term 2 above), and from a
                    contrastive init that made L2R and IEG learn far slower
                    than noisy supervised (docs/accuracy_study.md).
"""

import tensorflow as tf

WEIGHT_RULES = ('reference', 'class_balanced')

# Added to the weight normalizer so an all-clipped batch gives w* = 0.
_WEIGHT_NORM_EPS = 1e-5


def same_label_mean(values: tf.Tensor, labels: tf.Tensor, num_classes: int):
  """Mean of `values` over the rows that share each row's label.

  Args:
    values: float [B].
    labels: int [B] in [0, num_classes).
    num_classes: C.

  Returns:
    float [B]: row i holds mean_{j: labels_j = labels_i} values_j.
  """
  labels = tf.cast(labels, tf.int32)
  sums = tf.math.unsorted_segment_sum(values, labels, num_classes)
  counts = tf.math.unsorted_segment_sum(
    tf.ones_like(values), labels, num_classes
  )
  return tf.gather(sums / tf.maximum(counts, 1.0), labels)


def given_label_weights(
  logits: tf.Tensor, labels: tf.Tensor, probs: tf.Tensor | None = None
) -> tf.Tensor:
  """Class-balanced weights from p(given label): the network's own, or
  `probs` (the neighbor-vote prior) when given.

  w_i = (p_i(y_i) / mean_{j: y_j = y_i} p_j(y_j)) / B, with p = softmax at
  theta: the small-loss criterion of co-teaching and DivideMix as a soft
  weight, ranked only among examples that carry the same label. Why the
  per-label normalization: plain p_i(y_i) / sum_j p_j(y_j) favours the
  classes the network already predicts and collapsed L2R on CIFAR-10 at 80%
  noise (probe accuracy 0.19, docs/accuracy_study.md); here every label
  keeps the share of the batch it has. Gradient stopped; sums to 1.

  Args:
    logits: float [B, C] (the weak view at theta).
    labels: int [B] given labels.
    probs: optional float [B, C] used instead of softmax(logits) (the
      neighbor-vote prior, `--weight_source=vote`).

  Returns:
    float [B] summing to 1.
  """
  return relative_confidence(logits, labels, probs) / float(labels.shape[0])


def within_label_share(
  scores: tf.Tensor, labels: tf.Tensor, num_classes: int
) -> tf.Tensor:
  """scores_i / mean_{j: y_j = y_i} scores_j; 1 where that mean is 0.

  Args:
    scores: float [B], >= 0.
    labels: int [B] in [0, num_classes).
    num_classes: C.

  Returns:
    float [B], averaging 1 within each label present in the slice.
  """
  label_mean = same_label_mean(scores, labels, num_classes)
  return tf.where(
    label_mean > 0,
    tf.math.divide_no_nan(scores, label_mean),
    tf.ones_like(scores),
  )


def relative_confidence(
  logits: tf.Tensor, labels: tf.Tensor, probs: tf.Tensor | None = None
) -> tf.Tensor:
  """p_i(y_i) / mean_{j: y_j = y_i} p_j(y_j), gradient stopped.

  The probability of the given label (the network's, or from `probs`)
  relative to the other examples in the slice that carry the same label
  (1 = average).

  Args:
    logits: float [B, C] (the weak view at theta).
    labels: int [B] given labels.
    probs: optional float [B, C] class distributions used instead of
      softmax(logits).

  Returns:
    float [B], averaging 1 within each label.
  """
  if probs is None:
    probs = tf.nn.softmax(logits, axis=-1)
  probs = tf.stop_gradient(tf.cast(probs, logits.dtype))
  labels = tf.cast(labels, tf.int32)
  p_given = tf.gather(probs, labels, batch_dims=1)
  return within_label_share(p_given, labels, logits.shape[-1])


def meta_weights(
  grad_w: tf.Tensor,
  rule: str,
  *,
  logits: tf.Tensor | None = None,
  labels: tf.Tensor | None = None,
) -> tf.Tensor:
  """Normalized example weights w* from dL_meta/dw under `rule`.

  Normalized within this slice (the reference's per-replica semantics): w*
  sums to about 1, or is all 0 when every score is clipped.

  Args:
    grad_w: float [B] dL_meta/dw.
    rule: one of WEIGHT_RULES.
    logits: float [B, C] look-ahead logits ('class_balanced' reads only its
      class count C).
    labels: int [B] given labels ('class_balanced').

  Returns:
    float [B] w*, gradient stopped.

  Raises:
    ValueError: unknown rule, or a rule missing its inputs.
  """
  if rule not in WEIGHT_RULES:
    raise ValueError(f'meta weight rule {rule!r} is not one of {WEIGHT_RULES}.')
  score = -tf.stop_gradient(grad_w)
  if rule == 'class_balanced':
    if logits is None or labels is None:
      raise ValueError('meta weight rule class_balanced needs logits, labels.')
    share = within_label_share(
      tf.maximum(score, 0.0), tf.cast(labels, tf.int32), logits.shape[-1]
    )
    return share / float(score.shape[0])
  clipped = tf.maximum(score, 0.0)
  return clipped / (tf.reduce_sum(clipped) + _WEIGHT_NORM_EPS)


def example_weights(
  grad_w: tf.Tensor,
  rule: str,
  source: str,
  *,
  logits: tf.Tensor,
  labels: tf.Tensor,
  vote_probs: tf.Tensor | None = None,
) -> tf.Tensor:
  """L2R / IEG's example weights from the source `--weight_source` names.

  Weights either follow the probe meta-gradient ('meta', `meta_weights`
  under `rule`) or rank examples by p(given label) within their label
  (`given_label_weights`), read from the network ('network') or from the
  neighbor vote ('vote'). Blends of the two measured worse than either
  (docs/experiments.md), so there is no mix.

  Args:
    grad_w: float [B] dL_meta/dw.
    rule: one of WEIGHT_RULES (used by 'meta').
    source: 'meta', 'network' or 'vote'.
    logits: float [B, C] look-ahead logits of the weak view.
    labels: int [B] given labels.
    vote_probs: float [B, C] the neighbor-vote prior ('vote' only).

  Returns:
    float [B] weights, gradient stopped, summing to about 1.

  Raises:
    ValueError: unknown source, or 'vote' without `vote_probs`.
  """
  if source == 'meta':
    return meta_weights(grad_w, rule, logits=logits, labels=labels)
  if source == 'network':
    probs = None
  elif source == 'vote':
    if vote_probs is None:
      raise ValueError("weight source 'vote' needs vote_probs.")
    probs = vote_probs
  else:
    raise ValueError(f'unknown weight source {source!r}.')
  weights = given_label_weights(logits, labels, probs)
  return tf.cast(weights, grad_w.dtype)
