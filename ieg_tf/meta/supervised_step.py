"""Supervised baselines: cross-entropy or GCE on the weak view of noisy labels.

Also serves `--method=probe_only`: the same step, fed the clean probe set.
"""

import tensorflow as tf

from ieg_tf.meta import losses
from ieg_tf.meta.step_api import (
  StepContext,
  StepDefaults,
  StepOutput,
  accuracy,
)


class SupervisedStep(StepDefaults):
  """Per-replica step for `supervised`, `gce` and `probe_only`.

  Loss = sum_i loss_i / global_batch + wd * sum 0.5 ||v||^2 / replicas.
  """

  def __init__(self, ctx: StepContext, loss: str = 'ce', gce_q: float = 0.7):
    """Args:
    ctx: static step facts.
    loss: 'ce' (cross-entropy) or 'gce' (generalized CE with `gce_q`).
    gce_q: q of GCE in (0, 1].
    """
    if loss not in ('ce', 'gce'):
      raise ValueError(f'unknown loss {loss!r}')
    self._ctx = ctx
    self._loss = loss
    self._q = gce_q
    names = ['loss/total', 'loss/ce', 'loss/weight_decay', 'acc/train']
    if ctx.clean_labels_known:
      names.append('acc/train_clean')
    self.metric_names = tuple(names)

  def compute(
    self, params, non_trainable, slots, batch, seed, step, extra=None
  ) -> StepOutput:
    """One step's gradients (replica context, XLA-compilable).

    Args:
      params: list of float32 tensors, the trainable weights.
      non_trainable: list of tensors, BatchNorm statistics.
      slots: momentum buffers (unused here).
      batch: {'image_weak': float32 [B, H, W, C], 'label': int32 [B], ...}.
      seed: int [2] for stateless randomness (unused here).
      step: int64 scalar, optimizer steps taken so far (unused here).

    Returns:
      StepOutput with this replica's gradients.
    """
    del slots, seed, step
    ctx = self._ctx
    images, labels = batch['image_weak'], batch['label']
    with tf.GradientTape() as tape:
      tape.watch(params)
      logits, new_nt = ctx.forward(params, non_trainable, images, training=True)
      if self._loss == 'gce':
        per_example = losses.generalized_cross_entropy(labels, logits, self._q)
      else:
        per_example = losses.sparse_cross_entropy(labels, logits)
      wd = losses.l2_penalty(params, ctx.decay_mask, ctx.weight_decay)
      total = losses.scale_to_global(
        per_example, ctx.global_batch
      ) + losses.scale_replica_mean(wd, ctx.num_replicas)
    grads = tape.gradient(total, params)
    metrics = {
      'loss/total': tf.reduce_mean(per_example) + wd,
      'loss/ce': tf.reduce_mean(losses.sparse_cross_entropy(labels, logits)),
      'loss/weight_decay': wd,
      'acc/train': accuracy(labels, logits),
    }
    if ctx.clean_labels_known:
      metrics['acc/train_clean'] = accuracy(batch['clean_label'], logits)
    return StepOutput(grads, new_nt, metrics)
