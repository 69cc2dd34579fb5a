"""IEG's final per-replica loss (reference §1.7), term by term.

Pure, replica context. Scaling (the rule of `losses.py`):
  - per-example means over all rows (relabel CE, MixUp l_loss, KL
    consistency) are summed and divided by the GLOBAL batch
    (`scale_to_global`);
  - MixUp's u_loss, a mean over the 2B noisy rows, is summed and divided by
    twice the GLOBAL batch;
  - the re-weighted CE (w* is normalized within the replica) and the weight
    decay R(theta) are per-replica means by construction and are divided by
    the number of replicas (`scale_replica_mean`).
With equal local batches this equals the reference's "loss / num_replicas".
"""

import tensorflow as tf

from ieg_tf.meta import ieg_math
from ieg_tf.meta import label_guess
from ieg_tf.meta import losses


def mixup_xe_terms(mix_logits: tf.Tensor, mix_targets: tf.Tensor, batch: int):
  """Per-row CE of IEG's MixUp batch [probe | weak | strong].

  logit_norm is applied to each B-row split separately, as in the reference.

  Args:
    mix_logits: float [3B, C] logits of the mixed batch.
    mix_targets: float [3B, C] mixed targets (treated as constants).
    batch: B.

  Returns:
    (l_ce float [B] probe-row CE, u_ce float [2B] noisy-row CE, weak rows
    first, then strong rows, each in batch order).
  """
  if mix_logits.shape[0] != 3 * batch:
    raise ValueError(
      f'mix_logits has {mix_logits.shape[0]} rows, expected 3 * {batch}.'
    )
  targets = tf.stop_gradient(tf.cast(mix_targets, mix_logits.dtype))
  splits = tf.split(mix_logits, 3, axis=0)
  normed = [label_guess.logit_norm(s) for s in splits]
  l_ce = losses.soft_cross_entropy(targets[:batch], normed[0])
  u_ce = losses.soft_cross_entropy(
    targets[batch:], tf.concat(normed[1:], axis=0)
  )
  return l_ce, u_ce


def ieg_final_loss(
  *,
  weak_logits: tf.Tensor,
  strong_logits: tf.Tensor,
  labels: tf.Tensor,
  pseudo_labels: tf.Tensor,
  weights: tf.Tensor,
  eps: tf.Tensor,
  mix_logits: tf.Tensor | None,
  mix_targets: tf.Tensor | None,
  penalty: tf.Tensor,
  grad_eps_init: float,
  ce_factor: float,
  consistency_factor: float,
  global_batch: int,
  num_replicas: int,
) -> dict[str, tf.Tensor]:
  """All terms of IEG's final loss for one replica.

  L = 0.5 * (relabel + reweight) + xe_loss + cs_loss + R, where
    relabel  = mean_i CE(eps*_i y_i + (1 - eps*_i) g_i, z_i),
    reweight = sum_i w*_i CE(eps0 y_i + (1 - eps0) g_i, z_i),
    xe_loss  = l_loss + ce_factor * u_loss (MixUp, logit_norm per split),
    cs_loss  = consistency_factor * mean_i KL(softmax(z_i) || softmax(zs_i)).
  Targets, g, w* and eps* are constants here; the CE terms use raw logits.

  Every noisy MixUp row enters u_loss, as in the reference: a confidence
  gate on the rows measured harmful under the MixUp targets on evidence
  (docs/experiments.md, "The MixUp confidence gate").

  Args:
    weak_logits: float [B, C] z, weak view at theta.
    strong_logits: float [B, C] strong view at theta.
    labels: int [B] given labels.
    pseudo_labels: float [B, C] g (stop-gradiented here).
    weights: float [B] w* from the meta step.
    eps: float [B] eps* from the meta step.
    mix_logits: float [3B, C] logits of the MixUp batch, or None to drop
      xe_loss (the reference computes no MixUp when ce_factor and
      consistency_factor are both 0).
    mix_targets: float [3B, C] its targets, or None with mix_logits.
    penalty: scalar R(theta) (e.g. `losses.l2_penalty`).
    grad_eps_init: eps0 of the re-weighted term (reference 0.9).
    ce_factor: p (reference 5).
    consistency_factor: k (reference 20).
    global_batch: noisy examples per step over all replicas.
    num_replicas: replicas in sync.

  Returns:
    Dict of per-replica, UNSCALED terms 'relabel', 'reweight', 'l_loss',
    'u_loss', 'xe_loss', 'cs_loss', 'l2', 'net_loss' (their sum as above, for
    logging) and 'total':
    the scaled loss to differentiate; summed over replicas it is the global
    loss.
  """
  batch = weak_logits.shape[0]
  dtype = weak_logits.dtype
  g = tf.stop_gradient(tf.cast(pseudo_labels, dtype))
  relabel_t = ieg_math.mix_targets(labels, g, tf.stop_gradient(eps))
  relabel_ce = losses.soft_cross_entropy(
    tf.stop_gradient(relabel_t), weak_logits
  )
  eps0 = tf.fill([batch], tf.constant(grad_eps_init, dtype))
  reweight_t = ieg_math.mix_targets(labels, g, eps0)
  reweight_ce = losses.soft_cross_entropy(reweight_t, weak_logits)
  w = tf.stop_gradient(tf.cast(weights, dtype))
  kl = losses.kl_consistency(weak_logits, strong_logits)
  if mix_logits is None:
    l_ce, u_ce = tf.zeros([batch], dtype), tf.zeros([2 * batch], dtype)
  else:
    l_ce, u_ce = mixup_xe_terms(mix_logits, mix_targets, batch)
  penalty = tf.cast(penalty, dtype)

  terms = {
    'relabel': tf.reduce_mean(relabel_ce),
    'reweight': tf.reduce_sum(w * reweight_ce),
    'l_loss': tf.reduce_mean(l_ce),
    'u_loss': tf.reduce_mean(u_ce),
    'cs_loss': consistency_factor * tf.reduce_mean(kl),
    'l2': penalty,
  }
  terms['xe_loss'] = terms['l_loss'] + ce_factor * terms['u_loss']
  terms['net_loss'] = (
    0.5 * (terms['relabel'] + terms['reweight'])
    + terms['xe_loss']
    + terms['cs_loss']
    + penalty
  )
  scaled_xe = losses.scale_to_global(l_ce, global_batch) + (
    ce_factor * losses.scale_to_global(u_ce, 2 * global_batch)
  )
  terms['total'] = (
    0.5
    * (
      losses.scale_to_global(relabel_ce, global_batch)
      + losses.scale_replica_mean(terms['reweight'], num_replicas)
    )
    + scaled_xe
    + consistency_factor * losses.scale_to_global(kl, global_batch)
    + losses.scale_replica_mean(penalty, num_replicas)
  )
  return terms
