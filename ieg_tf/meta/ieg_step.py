"""IEG's per-replica train step (reference §1): meta re-weighting, re-labeling,
MixUp with probe data and KL consistency, as one pure, XLA-compilable function.

Forward passes per step (B = per-replica batch): weak B and strong B at theta
inside the look-ahead (reused for the final loss, so not repeated), probe B at
theta', MixUp 3B at theta. Only the weak pass updates BatchNorm statistics.
Each replica re-weights its own slice against its own probe batch and
normalizes w* locally (the reference's semantics); only the final gradients
are summed over replicas.
"""

import tensorflow as tf

from ieg_tf.meta import ieg_loss, ieg_math, losses, meta_diagnostics, mixup
from ieg_tf.meta.step_api import StepContext, StepOutput, accuracy, rampup


class IegStep:
  """`--method=ieg`."""

  needs_probe = True
  needs_strong_view = True

  def __init__(self, ctx: StepContext, method_cfg):
    """Args:
    ctx: static step facts.
    method_cfg: `config.MethodConfig` (meta_stepsize, meta_momentum,
      ce_factor, consistency_factor, grad_eps_init, label_temperature).
    """
    self._ctx = ctx
    self._m = method_cfg
    names = [
      'loss/total',
      'loss/relabel',
      'loss/reweight',
      'loss/xemin',
      'loss/consistency',
      'loss/weight_decay',
      'loss/meta',
      'acc/meta',
      'acc/train',
      'weights/mean',
      'weights/zero_fraction',
      'relabel/replaced_fraction',
    ]
    if ctx.clean_labels_known:
      names += [
        'acc/train_clean',
        'weights/clean_mean',
        'weights/noisy_mean',
        'relabel/precision',
        'relabel/recall',
        'pseudo/accuracy',
      ]
    self.metric_names = tuple(names)

  def compute(
    self, params, non_trainable, slots, batch, seed, step
  ) -> StepOutput:
    """One IEG step for this replica (replica context, XLA-compilable).

    Args:
      params: list of float32 tensors theta.
      non_trainable: BatchNorm statistics.
      slots: momentum accumulators aligned with params (the look-ahead reads
        them).
      batch: {'train': {'image_weak', 'image_strong': float32 [B, H, W, C],
        'label': int32 [B], ...}, 'probe': {'image', 'label'}}.
      seed: int [2] stateless seed for MixUp.
      step: int64 scalar, optimizer steps so far (drives the ramp-up).

    Returns:
      StepOutput with this replica's gradients.
    """
    ctx, m = self._ctx, self._m
    train, probe = batch['train'], batch['probe']
    labels = train['label']

    def forward(p, x):
      return ctx.forward(p, non_trainable, x, training=True)[0]

    def weak_forward(p, x):
      return ctx.forward(p, non_trainable, x, training=True)

    with tf.GradientTape() as tape:
      tape.watch(params)
      meta = ieg_math.ieg_meta_step(
        forward,
        params,
        slots,
        view_images=[train['image_weak'], train['image_strong']],
        labels=labels,
        probe_images=probe['image'],
        probe_labels=probe['label'],
        meta_stepsize=m.meta_stepsize,
        meta_momentum=m.meta_momentum,
        grad_eps_init=m.grad_eps_init,
        temperature=m.label_temperature,
        weight_decay=ctx.weight_decay,
        decay_mask=ctx.decay_mask,
        weak_forward=weak_forward,
      )
      weak_logits, strong_logits = meta.view_logits[0], meta.view_logits[1]
      mix_logits = mix_targets = None
      if m.ce_factor > 0 or m.consistency_factor > 0:
        mix_images, mix_targets = mixup.probe_noisy_mixup(
          seed,
          probe['image'],
          probe['label'],
          train['image_weak'],
          train['image_strong'],
          meta.pseudo_labels,
        )
        mix_logits = forward(params, mix_images)
      penalty = losses.l2_penalty(params, ctx.decay_mask, ctx.weight_decay)
      ramp = rampup(step, m.unsup_rampup_steps)
      terms = ieg_loss.ieg_final_loss(
        weak_logits=weak_logits,
        strong_logits=strong_logits,
        labels=labels,
        pseudo_labels=meta.pseudo_labels,
        weights=meta.weights,
        eps=meta.eps,
        mix_logits=mix_logits,
        mix_targets=mix_targets,
        penalty=penalty,
        grad_eps_init=m.grad_eps_init,
        ce_factor=m.ce_factor * ramp,
        consistency_factor=m.consistency_factor * ramp,
        global_batch=ctx.global_batch,
        num_replicas=ctx.num_replicas,
      )
    grads = tape.gradient(terms['total'], params)
    clean = ctx.clean_labels_known
    metrics = {
      'loss/total': terms['net_loss'],
      'loss/relabel': terms['relabel'],
      'loss/reweight': terms['reweight'],
      'loss/xemin': terms['xe_loss'],
      'loss/consistency': terms['cs_loss'],
      'loss/weight_decay': terms['l2'],
      'loss/meta': meta.probe_loss,
      'acc/meta': meta.probe_accuracy,
      'acc/train': accuracy(labels, weak_logits),
    }
    metrics.update(meta_diagnostics.weight_metrics(meta.weights, train, clean))
    metrics.update(
      meta_diagnostics.relabel_metrics(
        meta.eps, meta.pseudo_labels, train, clean
      )
    )
    if clean:
      metrics['acc/train_clean'] = accuracy(train['clean_label'], weak_logits)
    return StepOutput(grads, list(meta.weak_state), metrics)
