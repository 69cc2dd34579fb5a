"""L2R's per-replica train step (Ren et al. 2018; reference §2.1).

Per-example weights from one look-ahead step on the probe batch (w0 = 0, no
meta-momentum), then sum_i w*_i CE_i + R(theta). Weak view only; no
pseudo-labels, no MixUp. Weights are normalized per replica, or per meta
slice with `StepContext.meta_groups` (`meta_groups.py`).
"""

import tensorflow as tf

from ieg_tf.meta import l2r_math, losses, meta_groups
from ieg_tf.meta.meta_step import MetaStep
from ieg_tf.meta.step_api import StepContext, StepOutput, accuracy


class L2rStep(MetaStep):
  """`--method=l2r`.

  Batch: {'train': {'image_weak', 'label', 'index', ...}, 'probe': {'image',
  'label'}}. Nothing random, no step-dependent schedule, no momentum in the
  look-ahead, no variables of its own.
  """

  per_example_names = ('weight',)

  def __init__(self, ctx: StepContext, method_cfg):
    """Args:
    ctx: static step facts (meta_groups: see `meta_groups.py`).
    method_cfg: `config.MethodConfig` (meta_stepsize, meta_weight_rule,
      weight_source).
    """
    names = (
      'loss/total',
      'loss/weighted_ce',
      'loss/weight_decay',
      'loss/meta',
      'acc/meta',
      'acc/train',
    )
    super().__init__(ctx, method_cfg, names)

  def _compute_slice(
    self, params, non_trainable, slots, batch, seed, step, extra
  ) -> StepOutput:
    """The step on one meta slice (all of the replica when meta_groups=1)."""
    del slots, seed, step, extra
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
    metrics = {
      'loss/total': terms['net_loss'],
      'loss/weighted_ce': terms['weighted_ce'],
      'loss/weight_decay': terms['l2'],
      'loss/meta': meta.probe_loss,
      'acc/meta': meta.probe_accuracy,
      'acc/train': accuracy(train['label'], logits),
    }
    return self._slice_output(
      train, logits, meta.weights, grads, new_nt, metrics
    )
