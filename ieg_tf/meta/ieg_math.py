"""IEG's per-replica meta step: look-ahead loss, w* and eps* (reference §1.6).

Pure functions for the replica context (inside `strategy.run` and
`tf.function(jit_compile=True)`). The final loss of §1.7 is in `ieg_loss.py`.
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import tensorflow as tf

from ieg_tf.meta import label_evidence
from ieg_tf.meta import label_guess
from ieg_tf.meta import lookahead
from ieg_tf.meta import losses
from ieg_tf.meta import probe_holdout as probe_holdout_lib
from ieg_tf.meta import weight_rules


def mix_targets(
  labels: tf.Tensor, pseudo_labels: tf.Tensor, eps: tf.Tensor
) -> tf.Tensor:
  """t_i = eps_i * onehot(y_i) + (1 - eps_i) * g_i.

  Args:
    labels: int [B] given (possibly noisy) labels.
    pseudo_labels: float [B, C] pseudo-labels g.
    eps: float [B] label-mix coefficients (1 = trust the given label).

  Returns:
    float [B, C] soft targets, differentiable in eps and g.
  """
  onehot = tf.one_hot(
    labels, pseudo_labels.shape[-1], dtype=pseudo_labels.dtype
  )
  eps = tf.cast(eps, pseudo_labels.dtype)[:, None]
  return eps * onehot + (1.0 - eps) * pseudo_labels


def ieg_lookahead_loss(
  weak_logits: tf.Tensor,
  pseudo_labels: tf.Tensor,
  labels: tf.Tensor,
  weights: tf.Tensor,
  eps: tf.Tensor,
) -> tf.Tensor:
  """sum_i w_i * CE(eps_i y_i + (1 - eps_i) g_i, z_i), without R(theta).

  Gradients flow into the logits z, into g (the reference keeps g
  differentiable here) and into w and eps.

  Args:
    weak_logits: float [B, C] z = f(theta, weak view), raw (no logit_norm).
    pseudo_labels: float [B, C] g(theta).
    labels: int [B] given labels.
    weights: float [B] w (IEG starts from 1/B).
    eps: float [B] eps (IEG starts from grad_eps_init).

  Returns:
    Scalar look-ahead data loss.
  """
  targets = mix_targets(labels, pseudo_labels, eps)
  ce = losses.soft_cross_entropy(targets, weak_logits)
  return tf.reduce_sum(tf.cast(weights, ce.dtype) * ce)


def make_ieg_batch_loss_fn(
  forward: lookahead.ForwardFn,
  view_images: Sequence[tf.Tensor],
  labels: tf.Tensor,
  *,
  temperature: float,
  weight_decay: float,
  decay_mask: Sequence[bool] | None,
  weak_forward: Callable[..., tuple] | None = None,
  prior: tf.Tensor | None = None,
  prior_mix: float = 0.0,
):
  """Builds L_la(theta, [w, eps]) for `lookahead_gradients(has_aux=True)`.

  The returned function runs the network on every view at the parameters it
  is given, so the look-ahead gradient includes the path through g(theta).

  Args:
    forward: functional model, forward(params, images) -> logits [B, C].
    view_images: K float [B, H, W, C] views; view 0 is the weak view (its
      logits are z), the others are strong views used only for g.
    labels: int [B] given labels.
    temperature: sharpening temperature of the pseudo-label.
    weight_decay: wd of R(theta) in the look-ahead loss.
    decay_mask: bools aligned with params for R(theta); None = all.
    weak_forward: optional weak_forward(params, images) -> (logits, state)
      used for the weak view instead of `forward`, so the caller gets the
      pass's state (e.g. BatchNorm statistics from `stateless_call`) back.
    prior: optional float [B, C] neighbor-vote prior mixed into g
      (`label_guess.guess_label`).
    prior_mix: its share.

  Returns:
    fn(params, [w, eps]) -> (L_la scalar, aux), aux a dict with
    'view_logits' (list of K float [B, C]), 'pseudo_labels' (float [B, C])
    and 'weak_state' (what weak_forward returned besides logits, or None).
  """

  def batch_loss_fn(params, meta_vars):
    weights, eps = meta_vars
    weak_state = None
    if weak_forward is None:
      weak_logits = forward(params, view_images[0])
    else:
      weak_logits, weak_state = weak_forward(params, view_images[0])
    view_logits = [weak_logits] + [forward(params, x) for x in view_images[1:]]
    g = label_guess.guess_label(view_logits, temperature, prior, prior_mix)
    data_loss = ieg_lookahead_loss(view_logits[0], g, labels, weights, eps)
    penalty = lookahead.regularizer(
      params, decay_mask, weight_decay, data_loss.dtype
    )
    aux = {
      'view_logits': view_logits,
      'pseudo_labels': g,
      'weak_state': weak_state,
    }
    return data_loss + penalty, aux

  return batch_loss_fn


class IegMetaOutput(NamedTuple):
  """Result of `ieg_meta_step` (all per replica).

  Attributes:
    weights: float [B] w*, normalized, gradient stopped.
    eps: float [B] eps* in {0, 1}, gradient stopped.
    grad_w: float [B] dL_meta/dw.
    grad_eps: float [B] dL_meta/deps.
    probe_loss: scalar L_meta at theta'.
    probe_accuracy: scalar probe accuracy at theta'.
    view_logits: K float [B, C] logits at theta (recorded by any outer tape).
    pseudo_labels: float [B, C] g at theta (not stop-gradiented).
    weak_state: the state `weak_forward` returned, or None.
    agreement: float32 scalar m, share of the slice whose evidence's argmax
      is the given label (`label_evidence.label_agreement`).
    model_accuracy: scalar a, the network's probe accuracy the evidence
      reads: on the held-out probe rows when given, else `probe_accuracy`.
    label_accuracy: float32 scalar rho, the estimated share of right labels
      (`label_evidence.estimate_label_accuracy`).
    label_posterior: float32 [B] r, the posterior that each given label is
      right (`label_evidence.label_posterior`).
    class_posterior: float32 [B, C] q, the posterior over each example's
      true class (`label_evidence.true_class_posterior`).
  """

  weights: tf.Tensor
  eps: tf.Tensor
  grad_w: tf.Tensor
  grad_eps: tf.Tensor
  probe_loss: tf.Tensor
  probe_accuracy: tf.Tensor
  view_logits: list
  pseudo_labels: tf.Tensor
  weak_state: Any = None
  agreement: Any = None
  model_accuracy: Any = None
  label_accuracy: Any = None
  label_posterior: Any = None
  class_posterior: Any = None


def ieg_meta_step(
  forward: lookahead.ForwardFn,
  params: Sequence[tf.Tensor],
  momentum_slots: Sequence[tf.Tensor | None] | None,
  *,
  view_images: Sequence[tf.Tensor],
  labels: tf.Tensor,
  probe_images: tf.Tensor,
  probe_labels: tf.Tensor,
  meta_stepsize: float,
  meta_momentum: float,
  grad_eps_init: float,
  temperature: float,
  weight_decay: float,
  decay_mask: Sequence[bool] | None = None,
  meta_decay_mask: Sequence[bool] | None = None,
  weak_forward: Callable[..., tuple] | None = None,
  weight_rule: str = 'reference',
  weight_source: str = 'meta',
  relabel_rule: str = 'reference',
  prior: tf.Tensor | None = None,
  prior_mix: float = 0.0,
  probe_holdout: tf.Tensor | None = None,
) -> IegMetaOutput:
  """IEG's re-weighting and re-labeling for one replica's batch (§1.6).

  w starts at 1/B and eps at `grad_eps_init` for every example; their probe
  gradients give w* = max(-dL/dw, 0) / (sum + 1e-5) and eps* = [dL/deps < 0].

  Args:
    forward: functional model, forward(params, images) -> logits [B, C].
    params: theta (tensors or variables).
    momentum_slots: optimizer momentum accumulators aligned with params, or
      None.
    view_images: K float [B, H, W, C] views, weak first.
    labels: int [B] given labels.
    probe_images: float [P, H, W, C] probe batch.
    probe_labels: int [P] probe labels.
    meta_stepsize: alpha (reference 0.1).
    meta_momentum: mu (reference 0.9).
    grad_eps_init: eps0 (reference 0.9).
    temperature: pseudo-label temperature (reference 0.5).
    weight_decay: wd for both R(theta) (look-ahead) and R(theta') (probe).
    decay_mask: params R(theta) covers in the look-ahead; None = all.
    meta_decay_mask: params R(theta') covers; None = all (the reference).
    weak_forward: see `make_ieg_batch_loss_fn`. If this runs under the
      caller's GradientTape on theta, `view_logits` can be reused for the
      final loss without a second forward pass.
    weight_rule: how dL/dw becomes w*, one of `weight_rules.WEIGHT_RULES`
      ('reference' = the paper).
    weight_source: 'meta' (the paper), 'network' or 'vote' (p(given label)
      from `prior`), see `weight_rules.example_weights`.
    relabel_rule: 'evidence' (the reference's eps*, vetoed where
      `label_evidence.evidence_keep` keeps the label), 'reference' (eps* =
      [dL_meta/deps < 0]).
    prior: optional float [B, C] per-example prior mixed into the
      pseudo-label and combined with the evidence of the posteriors
      (`--label_vote_neighbors`, `label_evidence.with_prior`); None = the
      paper.
    prior_mix: its share (IEG uses 0.5, `ieg_step.py`).
    probe_holdout: optional bool [P], the probe rows MixUp does not train
      on: the evidence reads the network's accuracy a on these rows only
      (`probe_holdout.held_out_accuracy`); None = on the whole probe batch.

  Returns:
    An `IegMetaOutput`.
  """
  batch = labels.shape[0]
  dtype = view_images[0].dtype
  w0 = tf.fill([batch], tf.constant(1.0 / batch, dtype))
  eps0 = tf.fill([batch], tf.constant(grad_eps_init, dtype))
  result = lookahead.lookahead_gradients(
    forward,
    params,
    momentum_slots,
    batch_loss_fn=make_ieg_batch_loss_fn(
      forward,
      view_images,
      labels,
      temperature=temperature,
      weight_decay=weight_decay,
      decay_mask=decay_mask,
      weak_forward=weak_forward,
      prior=prior,
      prior_mix=prior_mix,
    ),
    probe_images=probe_images,
    probe_labels=probe_labels,
    meta_vars=[w0, eps0],
    meta_stepsize=meta_stepsize,
    meta_momentum=meta_momentum,
    weight_decay=weight_decay,
    decay_mask=meta_decay_mask,
    has_aux=True,
  )
  grad_w, grad_eps = result.meta_grads
  weak_logits = result.aux['view_logits'][0]
  weights = weight_rules.example_weights(
    grad_w,
    weight_rule,
    weight_source,
    logits=weak_logits,
    labels=labels,
    vote_probs=prior,
  )
  evidence = label_evidence.view_evidence(result.aux['view_logits'])
  if prior is not None:
    # The posteriors and MixUp's targets see the vote too: at heavy noise
    # the encoder's neighbors know more than a network still learning from
    # the noisy labels.
    evidence = label_evidence.with_prior(evidence, prior)
  # Agreement on the weak view alone, the view the probe accuracy is
  # measured on: strong views are harder, and their errors would read as
  # label noise.
  agreement = label_evidence.label_agreement(
    label_evidence.view_evidence(result.aux['view_logits'][:1]), labels
  )
  model_accuracy = result.probe_accuracy
  if probe_holdout is not None:
    model_accuracy = probe_holdout_lib.held_out_accuracy(
      result.probe_correct, probe_holdout
    )
  label_accuracy = label_evidence.estimate_label_accuracy(
    agreement, model_accuracy, evidence.shape[-1]
  )
  posterior = label_evidence.label_posterior(evidence, labels, label_accuracy)
  if relabel_rule == 'reference':
    eps = lookahead.ieg_relabel(grad_eps)
  elif relabel_rule == 'evidence':
    # The meta-gradient proposes, the evidence may veto: a label goes only
    # where both say so.
    keep = label_evidence.evidence_keep(
      posterior, label_accuracy, model_accuracy
    )
    proposed = lookahead.ieg_relabel(grad_eps)
    eps = tf.maximum(proposed, tf.cast(keep, proposed.dtype))
  else:
    raise ValueError(
      f"relabel rule {relabel_rule!r} is not 'evidence' or 'reference'."
    )
  return IegMetaOutput(
    weights=weights,
    eps=eps,
    grad_w=grad_w,
    grad_eps=grad_eps,
    probe_loss=result.probe_loss,
    probe_accuracy=result.probe_accuracy,
    view_logits=result.aux['view_logits'],
    pseudo_labels=result.aux['pseudo_labels'],
    weak_state=result.aux['weak_state'],
    agreement=agreement,
    model_accuracy=model_accuracy,
    label_accuracy=label_accuracy,
    label_posterior=posterior,
    class_posterior=label_evidence.true_class_posterior(
      evidence, labels, label_accuracy
    ),
  )
