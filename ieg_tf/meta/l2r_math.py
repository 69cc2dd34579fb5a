"""Learning to Re-weight (Ren et al. 2018) as in the IEG code (reference §2.1).

Weights only: no pseudo-labels, no MixUp, no eps. The look-ahead starts from
w0 = 0, so theta' = theta - alpha * grad R(theta) (no meta-momentum), and
dL_meta/dw_i = -alpha * v . grad_theta CE_i. Pure, replica context.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import tensorflow as tf

from ieg_tf.meta import lookahead
from ieg_tf.meta import losses
from ieg_tf.meta import weight_rules


def make_l2r_batch_loss_fn(
  forward: Callable[..., tf.Tensor],
  images: tf.Tensor,
  labels: tf.Tensor,
  *,
  weight_decay: float,
  decay_mask: Sequence[bool] | None,
):
  """Builds L_la(theta, [w]) = sum_i w_i CE(y_i, f(theta, x_i)) + R(theta).

  Args:
    forward: functional model, forward(params, images) -> logits [B, C].
    images: float [B, H, W, C] weak views of the noisy batch.
    labels: int [B] given (noisy) labels.
    weight_decay: wd of R(theta).
    decay_mask: bools aligned with params for R(theta); None = all.

  Returns:
    fn(params, [w]) -> (L_la scalar, logits float [B, C] at theta).
  """

  def batch_loss_fn(params, meta_vars):
    (weights,) = meta_vars
    logits = forward(params, images)
    ce = losses.sparse_cross_entropy(labels, logits)
    data_loss = tf.reduce_sum(tf.cast(weights, ce.dtype) * ce)
    penalty = lookahead.regularizer(params, decay_mask, weight_decay, ce.dtype)
    return data_loss + penalty, logits

  return batch_loss_fn


class L2rMetaOutput(NamedTuple):
  """Result of `l2r_meta_step` (per replica).

  Attributes:
    weights: float [B] w*, normalized, gradient stopped.
    grad_w: float [B] dL_meta/dw.
    probe_loss: scalar L_meta at theta'.
    probe_accuracy: scalar probe accuracy at theta'.
    logits: float [B, C] noisy-batch logits at theta.
  """

  weights: tf.Tensor
  grad_w: tf.Tensor
  probe_loss: tf.Tensor
  probe_accuracy: tf.Tensor
  logits: tf.Tensor


def l2r_meta_step(
  forward: Callable[..., tf.Tensor],
  params: Sequence[tf.Tensor],
  *,
  images: tf.Tensor,
  labels: tf.Tensor,
  probe_images: tf.Tensor,
  probe_labels: tf.Tensor,
  meta_stepsize: float,
  weight_decay: float,
  decay_mask: Sequence[bool] | None = None,
  meta_decay_mask: Sequence[bool] | None = None,
  weight_rule: str = 'reference',
  weight_source: str = 'meta',
) -> L2rMetaOutput:
  """L2R's per-replica weights w* = max(-dL/dw, 0) / (sum + 1e-5) from w0 = 0.

  Args:
    forward: functional model, forward(params, images) -> logits [B, C].
    params: theta (tensors or variables).
    images: float [B, H, W, C] weak views of the noisy batch.
    labels: int [B] given labels.
    probe_images: float [P, H, W, C] probe batch.
    probe_labels: int [P] probe labels.
    meta_stepsize: alpha (reference 0.1).
    weight_decay: wd of R(theta) and R(theta').
    decay_mask: params R(theta) covers; None = all.
    meta_decay_mask: params R(theta') covers; None = all (the reference).
    weight_rule: one of `weight_rules.WEIGHT_RULES` ('reference' = L2R).
    weight_source: 'meta' (L2R) or 'network' (`weight_rules.example_weights`).

  Returns:
    An `L2rMetaOutput`.
  """
  batch = labels.shape[0]
  w0 = tf.zeros([batch], images.dtype)
  result = lookahead.lookahead_gradients(
    forward,
    params,
    None,
    batch_loss_fn=make_l2r_batch_loss_fn(
      forward,
      images,
      labels,
      weight_decay=weight_decay,
      decay_mask=decay_mask,
    ),
    probe_images=probe_images,
    probe_labels=probe_labels,
    meta_vars=[w0],
    meta_stepsize=meta_stepsize,
    meta_momentum=0.0,
    weight_decay=weight_decay,
    decay_mask=meta_decay_mask,
    has_aux=True,
  )
  (grad_w,) = result.meta_grads
  logits = result.aux
  return L2rMetaOutput(
    weights=weight_rules.example_weights(
      grad_w, weight_rule, weight_source, logits=logits, labels=labels
    ),
    grad_w=grad_w,
    probe_loss=result.probe_loss,
    probe_accuracy=result.probe_accuracy,
    logits=logits,
  )


def l2r_final_loss(
  *,
  logits: tf.Tensor,
  labels: tf.Tensor,
  weights: tf.Tensor,
  penalty: tf.Tensor,
  num_replicas: int,
) -> dict[str, tf.Tensor]:
  """L2R's final loss sum_i w*_i CE(y_i, z_i) + R(theta) for one replica.

  Both terms are per-replica means by construction (w* is normalized within
  the replica), so both get `scale_replica_mean`.

  Args:
    logits: float [B, C] noisy-batch logits at theta.
    labels: int [B] given labels.
    weights: float [B] w* (treated as constants).
    penalty: scalar R(theta).
    num_replicas: replicas in sync.

  Returns:
    Dict of UNSCALED per-replica 'weighted_ce', 'l2', 'net_loss' (their sum)
    and 'total', the scaled loss to differentiate.
  """
  ce = losses.sparse_cross_entropy(labels, logits)
  w = tf.stop_gradient(tf.cast(weights, ce.dtype))
  weighted = tf.reduce_sum(w * ce)
  penalty = tf.cast(penalty, ce.dtype)
  return {
    'weighted_ce': weighted,
    'l2': penalty,
    'net_loss': weighted + penalty,
    'total': losses.scale_replica_mean(weighted + penalty, num_replicas),
  }
