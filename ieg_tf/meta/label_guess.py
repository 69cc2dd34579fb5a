"""Pseudo-labels from several augmented views (IEG's `guess_label`).

Pure functions (replica context or anywhere): tensors in, tensors out. Nothing
here stops gradients; IEG's look-ahead differentiates THROUGH the pseudo-label,
while its final loss uses it as a constant, so the caller decides.
"""

from collections.abc import Sequence

import tensorflow as tf

# Added under the square root so an all-zero logit matrix maps to zeros.
_LOGIT_NORM_EPS = 1e-8


def logit_norm(logits: tf.Tensor) -> tf.Tensor:
  """Divides a view's logits by their root mean square over the WHOLE batch.

  One scalar RMS is taken over all B*C entries (not one per row), as the
  reference does, so the relative confidence of the examples in the batch is
  kept while the overall logit scale (which grows during training) is removed.

  Args:
    logits: float [B, C] logits of one view.

  Returns:
    float [B, C]: logits / sqrt(mean(logits^2) + 1e-8), same dtype.
  """
  rms = tf.sqrt(tf.reduce_mean(tf.square(logits)) + _LOGIT_NORM_EPS)
  return logits / rms


def sharpen(probs: tf.Tensor, temperature: float) -> tf.Tensor:
  """Temperature sharpening p^(1/T) / sum_c p^(1/T) along the class axis.

  Args:
    probs: float [B, C] probabilities (rows sum to 1, entries >= 0).
    temperature: T > 0; T < 1 sharpens, T = 1 is the identity.

  Returns:
    float [B, C] probabilities, same dtype.
  """
  # tf.constant, not tf.cast: casting a Python float goes through float32.
  powered = tf.pow(probs, tf.constant(1.0 / temperature, probs.dtype))
  return powered / tf.reduce_sum(powered, axis=-1, keepdims=True)


def guess_label(
  view_logits: Sequence[tf.Tensor],
  temperature: float = 0.5,
  prior: tf.Tensor | None = None,
  prior_mix: float = 0.0,
) -> tf.Tensor:
  """Pseudo-label: sharpened mean of softmax(logit_norm(view)) over K views.

  With a prior: g = sharpen((1 - a) * q + a * prior), q the mean over views
  and a = `prior_mix` (IEG's neighbor vote, `--label_vote_neighbors`).

  Args:
    view_logits: K >= 1 float [B, C] logit matrices of the same examples under
      different augmentations (IEG: K = 2, the weak then the strong view).
    temperature: sharpening temperature T (IEG: 0.5, i.e. g ~ q^2).
    prior: optional float [B, C] per-example class distributions (a
      constant: no gradient flows into it).
    prior_mix: a in [0, 1], used only with `prior`.

  Returns:
    float [B, C] pseudo-label distribution g, differentiable w.r.t. every
    view's logits.
  """
  if not view_logits:
    raise ValueError('guess_label needs at least one view.')
  probs = [tf.nn.softmax(logit_norm(v), axis=-1) for v in view_logits]
  mean_probs = tf.add_n(probs) / tf.cast(len(probs), probs[0].dtype)
  if prior is not None:
    a = tf.constant(prior_mix, mean_probs.dtype)
    prior = tf.stop_gradient(tf.cast(prior, mean_probs.dtype))
    mean_probs = (1.0 - a) * mean_probs + a * prior
  return sharpen(mean_probs, temperature)
