"""The look-ahead meta step shared by IEG, L2R and Meta-Weight-Net.

Given meta variables phi (IEG: per-example weights w and label-mix eps; L2R: w;
MW-Net: the weighting MLP's parameters), the caller's look-ahead loss
L_la(theta, phi), and a clean probe batch, this computes

  G      = grad_theta L_la(theta, phi)                    (kept differentiable)
  theta' = theta - alpha * (mu * stop_gradient(m) + G)    (virtual SGD step)
  L_meta = mean_i CE(y_p_i, f(theta', x_p_i)) + R(theta')
  dL_meta / dphi

with nested GradientTapes (the reference's reverse-over-reverse): an inner
tape gives G, an outer tape records G's dependence on phi, and the probe
gradient v = dL_meta/dtheta' is pulled back through theta'(phi) as the
output gradient of the outer tape. m is the real optimizer's momentum slot
(TF1 units: accum <- mu * accum + g), so mu = 0 gives the plain step.

Everything runs per replica (inside `strategy.run`, XLA-compilable): each
replica uses its local noisy and probe batches, as the reference does.
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import tensorflow as tf

from ieg_tf.meta import losses
from ieg_tf.meta import weight_rules

ForwardFn = Callable[[list[tf.Tensor], tf.Tensor], tf.Tensor]


class LookaheadResult(NamedTuple):
  """What `lookahead_gradients` returns.

  Attributes:
    meta_grads: list aligned with `meta_vars`, dL_meta/dphi, same shapes.
    probe_loss: scalar L_meta at theta' (probe CE + regularizer).
    probe_accuracy: scalar top-1 accuracy of f(theta') on the probe batch.
    aux: whatever `batch_loss_fn` returned as auxiliary output (has_aux=True),
      else None.
    probe_correct: float [P] 1 where f(theta') is right on that probe row
      (its mean is `probe_accuracy`), for accuracies over a subset of rows.
  """

  meta_grads: list
  probe_loss: tf.Tensor
  probe_accuracy: tf.Tensor
  aux: Any = None
  probe_correct: Any = None


def virtual_step(
  params: Sequence[tf.Tensor],
  grads: Sequence[tf.Tensor],
  momentum_slots: Sequence[tf.Tensor | None] | None,
  meta_stepsize: float,
  meta_momentum: float,
) -> list[tf.Tensor]:
  """theta' = theta - alpha * (mu * stop_gradient(m) + G), per tensor.

  Args:
    params: theta, float tensors (or variables).
    grads: G, aligned with `params`.
    momentum_slots: the optimizer's momentum accumulators (gradient units),
      aligned with `params`; None (the whole list or an entry) means zero.
    meta_stepsize: alpha, a constant (it does not follow the LR schedule).
    meta_momentum: mu; 0 gives the plain step.

  Returns:
    theta' as a list of tensors, differentiable w.r.t. `grads`.
  """
  if momentum_slots is None:
    momentum_slots = [None] * len(params)
  out = []
  for p, g, m in zip(params, grads, momentum_slots, strict=True):
    step = g
    if m is not None and meta_momentum != 0.0:
      step = meta_momentum * tf.stop_gradient(tf.cast(m, g.dtype)) + g
    out.append(p - meta_stepsize * step)
  return out


def regularizer(
  params: Sequence[tf.Tensor],
  decay_mask: Sequence[bool] | None,
  weight_decay: float,
  dtype,
) -> tf.Tensor:
  """R(theta) = wd * sum 0.5 ||v||^2 over the decayed params, in `dtype`.

  Args:
    params: float tensors (theta or theta').
    decay_mask: bools aligned with `params`; None decays all of them.
    weight_decay: wd, a Python float.
    dtype: dtype of the result (`losses.l2_penalty` gives float32 0 when
      nothing is decayed, which would not add to a float64 loss).

  Returns:
    Scalar penalty.
  """
  mask = [True] * len(params) if decay_mask is None else list(decay_mask)
  return tf.cast(losses.l2_penalty(list(params), mask, weight_decay), dtype)


def probe_objective(
  forward: ForwardFn,
  params: Sequence[tf.Tensor],
  probe_images: tf.Tensor,
  probe_labels: tf.Tensor,
  decay_mask: Sequence[bool] | None,
  weight_decay: float,
):
  """L_meta = mean CE on the probe batch + wd * sum 0.5 ||theta||^2.

  Args:
    forward: functional model, forward(params, images) -> float [P, C].
    params: the parameters to evaluate (theta').
    probe_images: float [P, H, W, C] (or any shape `forward` accepts).
    probe_labels: int [P] clean labels.
    decay_mask: bools aligned with `params`; None decays all of them (the
      reference's meta regularizer covers every trainable tensor, BN too).
    weight_decay: wd, a Python float.

  Returns:
    (loss scalar, correct [P]): the loss and 1 / 0 per probe row where the
    argmax is the label, both in the logits' dtype.
  """
  logits = forward(list(params), probe_images)
  ce = tf.reduce_mean(losses.sparse_cross_entropy(probe_labels, logits))
  penalty = regularizer(params, decay_mask, weight_decay, logits.dtype)
  correct = tf.equal(
    tf.argmax(logits, axis=-1, output_type=tf.int32),
    tf.cast(probe_labels, tf.int32),
  )
  return ce + penalty, tf.cast(correct, logits.dtype)


def lookahead_gradients(
  forward: ForwardFn,
  params: Sequence[tf.Tensor],
  momentum_slots: Sequence[tf.Tensor | None] | None,
  *,
  batch_loss_fn: Callable[..., Any],
  probe_images: tf.Tensor,
  probe_labels: tf.Tensor,
  meta_vars: Sequence[tf.Tensor],
  meta_stepsize: float,
  meta_momentum: float,
  weight_decay: float,
  decay_mask: Sequence[bool] | None = None,
  has_aux: bool = False,
) -> LookaheadResult:
  """Gradient of the probe loss after one virtual step w.r.t. meta variables.

  Runs in the replica context (or eagerly); pure and XLA-compilable. If it is
  called under the caller's own GradientTape, that tape also records the
  forward passes inside `batch_loss_fn`, so tensors returned in `aux` stay
  differentiable w.r.t. theta (the caller can reuse the weak-view logits
  instead of running the network again).

  Args:
    forward: functional model, forward(params, images) -> logits [B, C].
    params: theta, the trainable parameters (tensors or variables).
    momentum_slots: optimizer momentum accumulators aligned with `params`, or
      None (treated as zero).
    batch_loss_fn: batch_loss_fn(params, meta_vars) -> scalar L_la, or
      (L_la, aux) when `has_aux`. Must compute its forward passes from the
      `params` it is given, so the look-ahead gradient is exact.
    probe_images: float [P, ...] clean probe batch.
    probe_labels: int [P] its labels.
    meta_vars: phi, float tensors the look-ahead loss depends on (e.g. w [B]
      and eps [B]); values, not variables.
    meta_stepsize: alpha of the virtual step.
    meta_momentum: mu of the virtual step (0 for L2R).
    weight_decay: wd of the probe-side regularizer R(theta').
    decay_mask: which params R(theta') covers; None = all of them.
    has_aux: whether batch_loss_fn returns (loss, aux).

  Returns:
    A `LookaheadResult`.
  """
  params = list(params)
  meta_vars = list(meta_vars)
  zero = tf.UnconnectedGradients.ZERO
  with tf.GradientTape(watch_accessed_variables=False) as outer:
    outer.watch(meta_vars)
    with tf.GradientTape(watch_accessed_variables=False) as inner:
      inner.watch(params)
      out = batch_loss_fn(params, meta_vars)
      la_loss, aux = out if has_aux else (out, None)
    grads = inner.gradient(la_loss, params, unconnected_gradients=zero)
    new_params = virtual_step(
      params, grads, momentum_slots, meta_stepsize, meta_momentum
    )
  # The probe pass stays off the outer tape: only v = dL_meta/dtheta' is
  # needed from it, and it is pulled back through theta'(phi) below.
  with tf.GradientTape(watch_accessed_variables=False) as probe_tape:
    probe_tape.watch(new_params)
    probe_loss, probe_correct = probe_objective(
      forward, new_params, probe_images, probe_labels, decay_mask, weight_decay
    )
  v = probe_tape.gradient(probe_loss, new_params, unconnected_gradients=zero)
  meta_grads = outer.gradient(
    new_params, meta_vars, output_gradients=v, unconnected_gradients=zero
  )
  return LookaheadResult(
    meta_grads,
    probe_loss,
    tf.reduce_mean(probe_correct),
    aux,
    probe_correct=probe_correct,
  )


def ieg_weights(grad_w: tf.Tensor) -> tf.Tensor:
  """Example weights from the meta gradient: max(-g, 0) / (sum + 1e-5).

  Normalized within this replica's batch (the reference's semantics), so the
  weights sum to about 1, or are all 0 when every example is clipped.

  Args:
    grad_w: float [B], dL_meta/dw.

  Returns:
    float [B] weights w*, gradient stopped.
  """
  return weight_rules.meta_weights(grad_w, 'reference')


def ieg_relabel(grad_eps: tf.Tensor) -> tf.Tensor:
  """Binary label choice: 1 (keep the given label) where dL_meta/deps < 0.

  Args:
    grad_eps: float [B], dL_meta/deps.

  Returns:
    float [B] eps* in {0, 1} (0 = use the pseudo-label), gradient stopped.
  """
  grad_eps = tf.stop_gradient(grad_eps)
  return tf.cast(grad_eps < 0.0, grad_eps.dtype)
