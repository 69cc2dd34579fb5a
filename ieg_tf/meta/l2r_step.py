"""L2R's per-replica train step (Ren et al. 2018; reference §2.1).

Per-example weights from one look-ahead step on the probe batch (w0 = 0, no
meta-momentum), then sum_i w*_i CE_i + R(theta). Weak view only; no
pseudo-labels, no MixUp. Weights are normalized per replica, or per meta
slice with `StepContext.meta_groups` (`meta_groups.py`).
"""

import tensorflow as tf

from ieg_tf.meta import l2r_math, losses, meta_diagnostics, meta_groups
from ieg_tf.meta.step_api import (
  StepContext,
  StepDefaults,
  StepOutput,
  accuracy,
)


class L2rStep(StepDefaults):
  """`--method=l2r`."""

  needs_probe = True
  needs_strong_view = False
  per_example_names = ('weight',)

  def __init__(self, ctx: StepContext, method_cfg):
    """Args:
    ctx: static step facts (meta_groups: see `meta_groups.py`).
    method_cfg: `config.MethodConfig` (meta_stepsize, meta_weight_rule).
    """
    meta_groups.check_groups(ctx)
    self._ctx = ctx
    self._m = method_cfg
    names = [
      'loss/total',
      'loss/weighted_ce',
      'loss/weight_decay',
      'loss/meta',
      'acc/meta',
      'acc/train',
    ]
    names += meta_diagnostics.weight_metric_names(ctx.clean_labels_known)
    if ctx.clean_labels_known:
      names.append('acc/train_clean')
    self.metric_names = tuple(names)

  def compute(
    self, params, non_trainable, slots, batch, seed, step, extra=None
  ) -> StepOutput:
    """One L2R step for this replica (replica context, XLA-compilable).

    Args:
      params: list of float32 tensors theta.
      non_trainable: BatchNorm statistics.
      slots: momentum accumulators (unused: L2R's look-ahead has none).
      batch: {'train': {'image_weak', 'label', 'index', ...}, 'probe': {...}}.
      seed: unused (nothing random).
      step: unused.
      extra: unused (L2R owns no variables).

    Returns:
      StepOutput with this replica's gradients (summed over its meta
      groups) and per-example 'weight' (see `meta_diagnostics`).
    """
    del slots, step, extra

    def one_slice(part, part_seed):
      del part_seed
      return self._compute_slice(params, non_trainable, part)

    return meta_groups.run_in_groups(
      one_slice, self._ctx.meta_groups, batch, seed
    )

  def _compute_slice(self, params, non_trainable, batch) -> StepOutput:
    """The step on one meta slice (all of the replica when meta_groups=1)."""
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
      weight_rule=self._m.meta_weight_rule,
      weight_source=self._m.weight_source,
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
        num_replicas=meta_groups.num_slices(ctx),
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
    return StepOutput(
      grads,
      list(new_nt),
      metrics,
      meta_diagnostics.per_example_stats(train, meta.weights),
    )
