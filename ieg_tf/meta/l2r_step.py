"""L2R's per-replica train step (Ren et al. 2018; reference §2.1).

Per-example weights from one look-ahead step on the probe batch (w0 = 0, no
meta-momentum), then sum_i w*_i CE_i + R(theta). Weak view only; no
pseudo-labels, no MixUp.
"""

import tensorflow as tf

from ieg_tf.meta import l2r_math, losses, meta_diagnostics
from ieg_tf.meta.step_api import StepContext, StepOutput, accuracy


class L2rStep:
  """`--method=l2r`."""

  needs_probe = True
  needs_strong_view = False

  def __init__(self, ctx: StepContext, method_cfg):
    """Args:
    ctx: static step facts.
    method_cfg: `config.MethodConfig` (meta_stepsize).
    """
    self._ctx = ctx
    self._m = method_cfg
    names = [
      'loss/total',
      'loss/weighted_ce',
      'loss/weight_decay',
      'loss/meta',
      'acc/meta',
      'acc/train',
      'weights/mean',
      'weights/zero_fraction',
    ]
    if ctx.clean_labels_known:
      names += ['acc/train_clean', 'weights/clean_mean', 'weights/noisy_mean']
    self.metric_names = tuple(names)

  def compute(
    self, params, non_trainable, slots, batch, seed, step
  ) -> StepOutput:
    """One L2R step for this replica (replica context, XLA-compilable).

    Args:
      params: list of float32 tensors theta.
      non_trainable: BatchNorm statistics.
      slots: momentum accumulators (unused: L2R's look-ahead has none).
      batch: {'train': {'image_weak', 'label', ...}, 'probe': {...}}.
      seed: unused.
      step: unused.

    Returns:
      StepOutput with this replica's gradients.
    """
    del slots, seed, step
    ctx = self._ctx
    train, probe = batch['train'], batch['probe']

    def forward(p, x):
      return ctx.forward(p, non_trainable, x, training=True)[0]

    meta = l2r_math.l2r_meta_step(
      forward,
      params,
      images=train['image_weak'],
      labels=train['label'],
      probe_images=probe['image'],
      probe_labels=probe['label'],
      meta_stepsize=self._m.meta_stepsize,
      weight_decay=ctx.weight_decay,
      decay_mask=ctx.decay_mask,
    )
    with tf.GradientTape() as tape:
      tape.watch(params)
      # The weak pass that updates BatchNorm statistics.
      logits, new_nt = ctx.forward(
        params, non_trainable, train['image_weak'], training=True
      )
      penalty = losses.l2_penalty(params, ctx.decay_mask, ctx.weight_decay)
      terms = l2r_math.l2r_final_loss(
        logits=logits,
        labels=train['label'],
        weights=meta.weights,
        penalty=penalty,
        num_replicas=ctx.num_replicas,
      )
    grads = tape.gradient(terms['total'], params)
    clean = ctx.clean_labels_known
    metrics = {
      'loss/total': terms['net_loss'],
      'loss/weighted_ce': terms['weighted_ce'],
      'loss/weight_decay': terms['l2'],
      'loss/meta': meta.probe_loss,
      'acc/meta': meta.probe_accuracy,
      'acc/train': accuracy(train['label'], logits),
    }
    metrics.update(meta_diagnostics.weight_metrics(meta.weights, train, clean))
    if clean:
      metrics['acc/train_clean'] = accuracy(train['clean_label'], logits)
    return StepOutput(grads, new_nt, metrics)
