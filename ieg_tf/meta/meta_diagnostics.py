"""Per-replica diagnostics of meta re-weighting / re-labeling (pure).

Means over the local batch (one meta slice, see `meta_groups.py`); the
runtime averages them over replicas and steps. Clean-label metrics are only
computed when the batch carries the true labels (synthetic noise, or a
clean-label file); they never feed the loss.

Weights are reported SCALED: w*_i * n, where n is the number of examples
w* was normalized over (the slice). The normalized w* sums to 1 over the
slice, so the scaled weight averages 1 (or 0 when every weight was clipped)
and reads the same at any batch size: 2.0 means "twice the plain average
example", 0 means "ignored".
"""

import tensorflow as tf

# Edges of the coarse weight histogram (scaled weights, see above).
_LOW, _HIGH = 0.5, 2.0


def _masked_mean(values, mask):
  mask = tf.cast(mask, tf.float32)
  return tf.math.divide_no_nan(
    tf.reduce_sum(tf.cast(values, tf.float32) * mask), tf.reduce_sum(mask)
  )


def scaled_weights(weights: tf.Tensor) -> tf.Tensor:
  """w* times the number of examples it was normalized over.

  Args:
    weights: float [n] weights normalized over these n examples.

  Returns:
    float32 [n], mean 1 (or 0 if all are 0).
  """
  w = tf.cast(weights, tf.float32)
  return w * float(weights.shape[0])


def clean_auc(scores: tf.Tensor, is_noisy: tf.Tensor) -> tf.Tensor:
  """Within-slice ROC-AUC of `scores` for telling clean from noisy labels.

  The probability that a correctly labeled example scores above a wrongly
  labeled one, ties counting one half (so all-equal weights give 0.5).
  Scale-free, unlike the clean / noisy means: 0.5 is chance, 1 a perfect
  split.

  Args:
    scores: float [n] (e.g. weights).
    is_noisy: bool [n].

  Returns:
    float32 scalar; 0.5 when the slice has no clean or no noisy example.
  """
  s = tf.cast(scores, tf.float32)
  clean = tf.logical_not(is_noisy)
  pairs = tf.cast(clean[:, None] & is_noisy[None, :], tf.float32)
  diff = s[:, None] - s[None, :]
  wins = tf.cast(diff > 0, tf.float32) + 0.5 * tf.cast(diff == 0, tf.float32)
  total = tf.reduce_sum(pairs)
  auc = tf.math.divide_no_nan(tf.reduce_sum(wins * pairs), total)
  return tf.where(total > 0, auc, 0.5)


def weight_metrics(weights: tf.Tensor, batch: dict, clean_known: bool) -> dict:
  """Statistics of the meta weights for one slice.

  Args:
    weights: float [n] normalized weights w* (summing to 1 or 0).
    batch: the slice's train batch (reads 'is_noisy' when `clean_known`).
    clean_known: whether the batch has true labels.

  Returns:
    float32 scalars of the scaled weights (module docstring):
    'weights/mean'; 'weights/zero_fraction' (w* = 0, i.e. clipped); a coarse
    histogram 'weights/frac_low' (0 < w < 0.5), 'weights/frac_mid'
    (0.5 <= w < 2), 'weights/frac_high' (w >= 2), which with the zero
    fraction sums to 1; and, with clean labels, 'weights/clean_mean' and
    'weights/noisy_mean' (mean scaled weight of examples whose given label
    is right / wrong) and 'weights/clean_auc' (`clean_auc`).
  """
  w = scaled_weights(weights)

  def frac(mask):
    return tf.reduce_mean(tf.cast(mask, tf.float32))

  out = {
    'weights/mean': tf.reduce_mean(w),
    'weights/zero_fraction': frac(w <= 0.0),
    'weights/frac_low': frac((w > 0.0) & (w < _LOW)),
    'weights/frac_mid': frac((w >= _LOW) & (w < _HIGH)),
    'weights/frac_high': frac(w >= _HIGH),
  }
  if clean_known:
    noisy = batch['is_noisy']
    out['weights/clean_mean'] = _masked_mean(w, tf.logical_not(noisy))
    out['weights/noisy_mean'] = _masked_mean(w, noisy)
    out['weights/clean_auc'] = clean_auc(w, noisy)
  return out


def weight_metric_names(clean_known: bool) -> list:
  """The keys `weight_metrics` returns, in a fixed order."""
  names = [
    'weights/mean',
    'weights/zero_fraction',
    'weights/frac_low',
    'weights/frac_mid',
    'weights/frac_high',
  ]
  if clean_known:
    names += ['weights/clean_mean', 'weights/noisy_mean', 'weights/clean_auc']
  return names


def relabel_metrics(
  eps: tf.Tensor, pseudo_labels: tf.Tensor, batch: dict, clean_known: bool
) -> dict:
  """Statistics of the binary re-labeling eps* for one slice.

  The ratios over the replaced (or noisy) examples are not computed here:
  a slice that replaces nothing has no such ratio, and a mean of per-step
  ratios over steps that replaced 1 or 100 examples weighs them alike. The
  slice logs shares of ALL its examples instead (means that average
  correctly over replicas and steps); the host divides them at each log line
  (`RELABEL_POOLED_RATIOS`, `summaries.pooled_ratios`).

  Args:
    eps: float [n] eps* in {0, 1}; 0 = the given label is replaced by g.
    pseudo_labels: float [n, C] g.
    batch: the slice's train batch ('is_noisy', 'clean_label' when
      `clean_known`).
    clean_known: whether the batch has true labels.

  Returns:
    {'relabel/replaced_fraction'} and, with clean labels, the shares of the
    slice's examples that were replaced and noisy
    ('relabel/replaced_noisy_share'), replaced by a pseudo-label whose
    argmax is the true label ('relabel/replaced_right_share'), replaced
    while their given label was right ('relabel/replaced_clean_share'),
    the noisy share ('relabel/noisy_fraction'), and 'pseudo/accuracy'
    (argmax g == true label, all examples).
  """
  replaced = tf.cast(eps, tf.float32) < 0.5

  def share(mask):
    return tf.reduce_mean(tf.cast(mask, tf.float32))

  out = {'relabel/replaced_fraction': share(replaced)}
  if clean_known:
    noisy = batch['is_noisy']
    guess = tf.argmax(pseudo_labels, axis=-1, output_type=tf.int32)
    guess_right = tf.equal(guess, tf.cast(batch['clean_label'], tf.int32))
    out['relabel/replaced_noisy_share'] = share(replaced & noisy)
    out['relabel/replaced_right_share'] = share(replaced & guess_right)
    out['relabel/replaced_clean_share'] = share(
      replaced & tf.logical_not(noisy)
    )
    out['relabel/noisy_fraction'] = share(noisy)
    out['pseudo/accuracy'] = share(guess_right)
  return out


def relabel_metric_names(clean_known: bool) -> list:
  """The keys `relabel_metrics` returns, in a fixed order."""
  names = ['relabel/replaced_fraction']
  if clean_known:
    names += [
      'relabel/replaced_noisy_share',
      'relabel/replaced_right_share',
      'relabel/replaced_clean_share',
      'relabel/noisy_fraction',
      'pseudo/accuracy',
    ]
  return names


# Ratios of `relabel_metrics` shares, pooled over a log interval:
# {logged name: (numerator share, denominator share)}.
#   precision                 replaced examples that were noisy
#   recall                    noisy examples that were replaced
#   replacement_accuracy      replaced examples whose pseudo-label's argmax is
#                             the true label
#   replaced_label_accuracy   replaced examples whose given label was right:
#                             replacing helps where the line above is higher
RELABEL_POOLED_RATIOS = {
  'relabel/precision': (
    'relabel/replaced_noisy_share',
    'relabel/replaced_fraction',
  ),
  'relabel/recall': ('relabel/replaced_noisy_share', 'relabel/noisy_fraction'),
  'relabel/replacement_accuracy': (
    'relabel/replaced_right_share',
    'relabel/replaced_fraction',
  ),
  'relabel/replaced_label_accuracy': (
    'relabel/replaced_clean_share',
    'relabel/replaced_fraction',
  ),
}


def evidence_metrics(
  label_accuracy: tf.Tensor,
  agreement: tf.Tensor,
  model_accuracy: tf.Tensor,
  batch: dict,
  clean_known: bool,
) -> dict:
  """What the re-labeling evidence saw on one slice (`label_evidence`).

  Args:
    label_accuracy: float scalar rho, the estimated share of right labels.
    agreement: float scalar m, evidence argmax == given label.
    model_accuracy: float scalar a, the network's probe accuracy.
    batch: the slice's train batch ('is_noisy' when `clean_known`).
    clean_known: whether the batch has true labels.

  Returns:
    float32 scalars 'evidence/noise_rate' (1 - rho), 'evidence/agreement'
    (m), 'evidence/model_accuracy' (a), 'evidence/gate_open' (1 while
    a > rho: re-labeling allowed) and,
    with clean labels, 'evidence/true_noise_rate' (the slice's wrong
    labels, to compare with the estimate).
  """
  rho = tf.cast(label_accuracy, tf.float32)
  out = {
    'evidence/noise_rate': 1.0 - rho,
    'evidence/agreement': tf.cast(agreement, tf.float32),
    'evidence/model_accuracy': tf.cast(model_accuracy, tf.float32),
    'evidence/gate_open': tf.cast(
      tf.cast(model_accuracy, tf.float32) > rho, tf.float32
    ),
  }
  if clean_known:
    out['evidence/true_noise_rate'] = tf.reduce_mean(
      tf.cast(batch['is_noisy'], tf.float32)
    )
  return out


def evidence_metric_names(clean_known: bool) -> list:
  """The keys `evidence_metrics` returns, in a fixed order."""
  names = [
    'evidence/noise_rate',
    'evidence/agreement',
    'evidence/model_accuracy',
    'evidence/gate_open',
  ]
  if clean_known:
    names.append('evidence/true_noise_rate')
  return names


def per_example_stats(train: dict, weights: tf.Tensor, eps=None) -> dict:
  """This slice's per-example statistics for the label report.

  Args:
    train: the slice's train batch; its 'index' (int32 [n], row in the train
      split) keys the statistics.
    weights: float [n] normalized weights w*.
    eps: float [n] eps* in {0, 1} (IEG), or None.

  Returns:
    {'index': int32 [n], 'weight': float32 [n] scaled weights (mean 1, see
    the module docstring), and with eps 'relabel': float32 [n], 1.0 where
    the given label was replaced by the pseudo-label (eps* = 0)}; {} when
    the batch has no 'index' (hand-made batches in tests).
  """
  if 'index' not in train:
    return {}
  out = {
    'index': tf.cast(train['index'], tf.int32),
    'weight': scaled_weights(weights),
  }
  if eps is not None:
    out['relabel'] = tf.cast(tf.cast(eps, tf.float32) < 0.5, tf.float32)
  return out
