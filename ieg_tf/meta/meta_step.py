"""The skeleton the three meta steps (IEG, L2R, MW-Net) share.

Each of them re-weights the noisy batch against a probe batch, per replica
or per meta slice (`meta_groups.py`), and reports the same weight
diagnostics. What differs is one slice's computation, `_compute_slice`;
this class does the rest: the meta-slice check, the slicing and combining,
the metric names and the end of a slice (weight metrics, clean-label
accuracy, per-example statistics for the label report).
"""

import tensorflow as tf

from ieg_tf.meta import meta_diagnostics, meta_groups
from ieg_tf.meta.step_api import (
  StepContext,
  StepDefaults,
  StepOutput,
  accuracy,
)


class MetaStep(StepDefaults):
  """A step that weights examples with a probe batch, slice by slice.

  Subclasses set `per_example_names` and implement `_compute_slice`.
  """

  needs_probe = True

  def __init__(self, ctx: StepContext, method_cfg, names, diagnostic_names=()):
    """Args:
    ctx: static step facts (meta_groups: see `meta_groups.py`).
    method_cfg: `config.MethodConfig`.
    names: the method's own metric names (losses, accuracies).
    diagnostic_names: further diagnostics logged after the weight metrics
      (IEG's re-labeling and evidence metrics).
    """
    meta_groups.check_groups(ctx)
    self._ctx = ctx
    self._m = method_cfg
    clean = ctx.clean_labels_known
    all_names = list(names)
    all_names += meta_diagnostics.weight_metric_names(clean)
    all_names += list(diagnostic_names)
    if clean:
      all_names.append('acc/train_clean')
    self.metric_names = tuple(all_names)

  def compute(
    self, params, non_trainable, slots, batch, seed, step, extra=None
  ) -> StepOutput:
    """One step for this replica (replica context, XLA-compilable).

    Args:
      params: list of float32 tensors theta.
      non_trainable: BatchNorm statistics.
      slots: optimizer momentum accumulators aligned with params.
      batch: {'train': {...}, 'probe': {...}} (the keys the method needs,
        see its class).
      seed: int [2] stateless seed of this replica's step.
      step: int64 scalar, optimizer steps so far.
      extra: the step's own variables' values (`extra_variables`), or None.

    Returns:
      StepOutput summed over this replica's meta slices.
    """

    def one_slice(part, part_seed):
      return self._compute_slice(
        params, non_trainable, slots, part, part_seed, step, extra
      )

    return meta_groups.run_in_groups(
      one_slice, self._ctx.meta_groups, batch, seed
    )

  def _compute_slice(
    self, params, non_trainable, slots, batch, seed, step, extra
  ) -> StepOutput:
    """The step on one meta slice (all of the replica when meta_groups=1)."""
    raise NotImplementedError

  def _slice_output(
    self,
    train: dict,
    logits: tf.Tensor,
    weights: tf.Tensor,
    grads,
    new_non_trainable,
    metrics: dict,
    diagnostics: dict | None = None,
    eps: tf.Tensor | None = None,
    extra_grads=None,
  ) -> StepOutput:
    """A slice's StepOutput, with the diagnostics every meta step logs.

    Args:
      train: the slice's noisy batch.
      logits: float [B, C] weak-view logits at theta.
      weights: float [B] the example weights w*.
      grads: gradients aligned with params.
      new_non_trainable: updated BatchNorm statistics.
      metrics: the method's own metrics (`names` of the constructor).
      diagnostics: the values of `diagnostic_names`, or None.
      eps: float [B] IEG's label mix eps*, or None.
      extra_grads: gradients of `extra_variables`, or None.
    """
    clean = self._ctx.clean_labels_known
    metrics = dict(metrics)
    metrics.update(meta_diagnostics.weight_metrics(weights, train, clean))
    metrics.update(diagnostics or {})
    if clean:
      metrics['acc/train_clean'] = accuracy(train['clean_label'], logits)
    per_example = meta_diagnostics.per_example_stats(train, weights, eps)
    return StepOutput(
      grads, list(new_non_trainable), metrics, per_example, extra_grads or []
    )
