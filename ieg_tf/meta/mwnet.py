"""Meta-Weight-Net (Shu et al. 2019) as pure functions over explicit params.

A small MLP maps each example's (gradient-stopped) training loss to a weight
in (0, 1): 1 -> hidden (ReLU) -> 1 (sigmoid). It is trained through the same
look-ahead as IEG/L2R: the virtual step uses the MLP's weights, and the probe
loss at theta' is differentiated w.r.t. the MLP's params. This module returns
that gradient; the caller owns the MLP's variables and optimizer (the paper:
SGD lr 1e-3, momentum 0.9, wd 1e-4). Replica context, XLA-compilable.
"""

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from ieg_tf.meta import lookahead
from ieg_tf.meta import losses


def mwnet_init(seed, hidden: int = 100, dtype=tf.float32) -> list[tf.Tensor]:
  """Initial MLP params, PyTorch-Linear style: U(+-1/sqrt(fan_in)).

  Args:
    seed: int [2] stateless seed.
    hidden: hidden width (the paper: 100).
    dtype: float dtype.

  Returns:
    [w1 [1, hidden], b1 [hidden], w2 [hidden, 1], b2 [1]].
  """
  seeds = tf.random.experimental.stateless_split(seed, 4)
  shapes = [[1, hidden], [hidden], [hidden, 1], [1]]
  fan_ins = [1, 1, hidden, hidden]
  return [
    tf.random.stateless_uniform(
      shape, s, minval=-1.0 / np.sqrt(f), maxval=1.0 / np.sqrt(f), dtype=dtype
    )
    for shape, s, f in zip(shapes, tf.unstack(seeds), fan_ins)
  ]


def mwnet_forward(
  mw_params: Sequence[tf.Tensor], per_example_loss: tf.Tensor
) -> tf.Tensor:
  """Weights sigmoid(w2 . relu(w1 * loss + b1) + b2) per example.

  Args:
    mw_params: [w1 [1, H], b1 [H], w2 [H, 1], b2 [1]].
    per_example_loss: float [B] losses (callers pass them gradient-stopped).

  Returns:
    float [B] weights in (0, 1), differentiable w.r.t. mw_params.
  """
  w1, b1, w2, b2 = mw_params
  x = tf.cast(per_example_loss, w1.dtype)[:, None]
  hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
  return tf.sigmoid(tf.matmul(hidden, w2) + b2)[:, 0]


def normalize_weights(weights: tf.Tensor) -> tf.Tensor:
  """w / sum(w) over the replica's batch; unchanged if the sum is 0.

  Args:
    weights: float [B], non-negative.

  Returns:
    float [B].
  """
  total = tf.reduce_sum(weights)
  positive = total > 0.0
  safe = tf.where(positive, total, tf.ones_like(total))
  return tf.where(positive, weights / safe, weights)


def mwnet_weights(
  mw_params: Sequence[tf.Tensor],
  per_example_loss: tf.Tensor,
  normalize: bool = True,
) -> tf.Tensor:
  """MLP weights of the (gradient-stopped) losses, optionally normalized.

  Args:
    mw_params: the MLP's params.
    per_example_loss: float [B].
    normalize: divide by the batch sum (the official MW-Net code; Ghosh & Lan
      do not).

  Returns:
    float [B] weights, differentiable w.r.t. mw_params only.
  """
  w = mwnet_forward(mw_params, tf.stop_gradient(per_example_loss))
  return normalize_weights(w) if normalize else w


def _weighted_loss(weights: tf.Tensor, ce: tf.Tensor, normalize: bool):
  # Normalized weights already sum to 1; unnormalized ones are averaged.
  total = tf.reduce_sum(tf.cast(weights, ce.dtype) * ce)
  return total if normalize else total / tf.cast(tf.size(ce), ce.dtype)


def make_mwnet_batch_loss_fn(
  forward: Callable[..., tf.Tensor],
  images: tf.Tensor,
  labels: tf.Tensor,
  *,
  weight_decay: float,
  decay_mask: Sequence[bool] | None,
  normalize: bool = True,
  weak_forward: Callable[..., tuple] | None = None,
):
  """Builds L_la(theta, mw_params) = weighted CE + R(theta).

  Args:
    forward: functional model, forward(params, images) -> logits [B, C].
    images: float [B, H, W, C] noisy batch.
    labels: int [B] given labels.
    weight_decay: wd of R(theta).
    decay_mask: bools aligned with params; None = all.
    normalize: see `mwnet_weights`.
    weak_forward: optional weak_forward(params, images) -> (logits, state)
      used instead of `forward`, so the caller gets the pass's state (the
      BatchNorm statistics of `stateless_call`) back.

  Returns:
    fn(params, mw_params) -> (L_la scalar, aux): aux is the logits float
    [B, C] at theta, or (logits, state) when `weak_forward` is given.
  """

  def batch_loss_fn(params, mw_params):
    if weak_forward is None:
      logits = forward(params, images)
      aux = logits
    else:
      logits, state = weak_forward(params, images)
      aux = (logits, state)
    ce = losses.sparse_cross_entropy(labels, logits)
    w = mwnet_weights(mw_params, ce, normalize)
    penalty = lookahead.regularizer(params, decay_mask, weight_decay, ce.dtype)
    return _weighted_loss(w, ce, normalize) + penalty, aux

  return batch_loss_fn


def mwnet_meta_gradients(
  forward: Callable[..., tf.Tensor],
  params: Sequence[tf.Tensor],
  momentum_slots: Sequence[tf.Tensor | None] | None,
  mw_params: Sequence[tf.Tensor],
  *,
  images: tf.Tensor,
  labels: tf.Tensor,
  probe_images: tf.Tensor,
  probe_labels: tf.Tensor,
  meta_stepsize: float,
  weight_decay: float,
  meta_momentum: float = 0.0,
  decay_mask: Sequence[bool] | None = None,
  meta_decay_mask: Sequence[bool] | None = None,
  normalize: bool = True,
  weak_forward: Callable[..., tuple] | None = None,
) -> lookahead.LookaheadResult:
  """dL_meta/d mw_params through one virtual step weighted by the MLP.

  Args:
    forward: functional model, forward(params, images) -> logits [B, C].
    params: theta.
    momentum_slots: optimizer momentum accumulators or None.
    mw_params: the MLP's current params (tensors).
    images: float [B, H, W, C] noisy batch.
    labels: int [B] given labels.
    probe_images: float [P, H, W, C] probe (meta) batch.
    probe_labels: int [P] its labels.
    meta_stepsize: virtual-step size (the paper uses the current LR).
    weight_decay: wd of R(theta) and R(theta'); 0 drops both.
    meta_momentum: 0 gives the paper's plain virtual SGD step.
    decay_mask: params R(theta) covers; None = all.
    meta_decay_mask: params R(theta') covers; None = all.
    normalize: see `mwnet_weights`.
    weak_forward: see `make_mwnet_batch_loss_fn`. Under the caller's
      GradientTape on theta, the returned logits stay differentiable, so the
      final loss can reuse them without a second forward pass.

  Returns:
    `LookaheadResult` whose meta_grads align with mw_params and whose aux is
    the noisy-batch logits at theta (with `weak_forward`: (logits, state)).
  """
  return lookahead.lookahead_gradients(
    forward,
    params,
    momentum_slots,
    batch_loss_fn=make_mwnet_batch_loss_fn(
      forward,
      images,
      labels,
      weight_decay=weight_decay,
      decay_mask=decay_mask,
      normalize=normalize,
      weak_forward=weak_forward,
    ),
    probe_images=probe_images,
    probe_labels=probe_labels,
    meta_vars=list(mw_params),
    meta_stepsize=meta_stepsize,
    meta_momentum=meta_momentum,
    weight_decay=weight_decay,
    decay_mask=meta_decay_mask,
    has_aux=True,
  )


def mwnet_final_loss(
  *,
  logits: tf.Tensor,
  labels: tf.Tensor,
  weights: tf.Tensor,
  penalty: tf.Tensor,
  global_batch: int,
  num_replicas: int,
  normalize: bool = True,
) -> dict[str, tf.Tensor]:
  """The real step's loss with weights from the UPDATED MLP (constants).

  Scaling: normalized weights make the weighted CE a per-replica mean
  (`scale_replica_mean`); unnormalized ones give a per-example mean
  (`scale_to_global`). R(theta) is always `scale_replica_mean`.

  Args:
    logits: float [B, C] noisy-batch logits at theta.
    labels: int [B] given labels.
    weights: float [B] `mwnet_weights` of the updated MLP.
    penalty: scalar R(theta).
    global_batch: noisy examples per step over all replicas.
    num_replicas: replicas in sync.
    normalize: whether `weights` were normalized.

  Returns:
    Dict of UNSCALED per-replica 'weighted_ce', 'l2', 'net_loss' and the
    scaled 'total' to differentiate.
  """
  ce = losses.sparse_cross_entropy(labels, logits)
  w = tf.stop_gradient(tf.cast(weights, ce.dtype))
  penalty = tf.cast(penalty, ce.dtype)
  weighted = _weighted_loss(w, ce, normalize)
  if normalize:
    scaled = losses.scale_replica_mean(weighted, num_replicas)
  else:
    scaled = losses.scale_to_global(w * ce, global_batch)
  return {
    'weighted_ce': weighted,
    'l2': penalty,
    'net_loss': weighted + penalty,
    'total': scaled + losses.scale_replica_mean(penalty, num_replicas),
  }
