"""IEG's per-replica train step (reference §1): meta re-weighting, re-labeling,
MixUp with probe data and KL consistency, as one pure, XLA-compilable function.

Forward passes per step (B = per-replica batch): weak B and strong B at theta
inside the look-ahead (reused for the final loss, so not repeated), probe B at
theta', MixUp 3B at theta. Only the weak pass updates BatchNorm statistics.
Each replica re-weights its own slice against its own probe batch and
normalizes w* locally (the reference's semantics); only the final gradients
are summed over replicas. `StepContext.meta_groups` cuts each replica's
batch further into slices that behave exactly like replicas
(`meta_groups.py`).

K views (`--num_views`, `view_keys`): the pseudo-label averages the weak
view and K-1 strong views; MixUp and the KL consistency use the weak view
and the first strong view, as the reference (K = 2) does.
"""

import tensorflow as tf

from ieg_tf.errors import UserError
from ieg_tf.meta import (
  ieg_loss,
  ieg_math,
  losses,
  meta_diagnostics,
  meta_groups,
  mixup,
  probe_holdout,
)
from ieg_tf.meta.meta_step import MetaStep
from ieg_tf.meta.step_api import StepContext, StepOutput, accuracy, rampup

# Share of the neighbor vote in the pseudo-label (--label_vote_neighbors);
# no other share was measured (docs/experiments.md).
_VOTE_SHARE = 0.5


def view_keys(num_views: int) -> list:
  """Train-batch keys of the K views averaged into the pseudo-label.

  View 0 is the weak view, view 1 the strong view (also used by MixUp and
  the KL consistency), views 2..K-1 further strong views (independent
  strong augmentations of the same image, same shape and range).

  Args:
    num_views: K >= 1.

  Returns:
    ['image_weak', 'image_strong', 'image_strong_2', ...][:K].
  """
  keys = ['image_weak', 'image_strong']
  keys += [f'image_strong_{k}' for k in range(2, num_views)]
  return keys[:num_views]


class IegStep(MetaStep):
  """`--method=ieg`.

  Batch: {'train': {'image_weak', 'image_strong' (and 'image_strong_k' for
  K > 2, see `view_keys`): float32 [B, H, W, C], 'label': int32 [B],
  'index': int32 [B], optional 'label_prior': float32 [B, C] (the neighbor
  vote mixed into the pseudo-label), ...}, 'probe': {'image', 'label',
  optional 'holdout' bool [P] (the rows MixUp leaves out under
  --relabel_rule=evidence)}}. `compute`'s seed drives MixUp, its step the
  ramp-up, its slots the look-ahead's momentum; IEG owns no variables.
  """

  needs_strong_view = True
  per_example_names = ('weight', 'relabel')

  def __init__(self, ctx: StepContext, method_cfg, ieg_cfg):
    """Args:
    ctx: static step facts (meta_groups: see `meta_groups.py`).
    method_cfg: `config.MethodConfig` (meta_stepsize, meta_weight_rule,
      weight_source).
    ieg_cfg: `config.IegConfig`.

    Raises:
      UserError: bad num_views.
    """
    if ieg_cfg.num_views < 1:
      raise UserError(f'--num_views must be >= 1, got {ieg_cfg.num_views}.')
    self._ieg = ieg_cfg
    self._view_keys = view_keys(ieg_cfg.num_views)
    # Strong views per example the input pipeline must provide.
    self.num_strong_views = max(1, ieg_cfg.num_views - 1)
    clean = ctx.clean_labels_known
    names = (
      'loss/total',
      'loss/relabel',
      'loss/reweight',
      'loss/xemin',
      'loss/consistency',
      'loss/weight_decay',
      'loss/meta',
      'mixup/effective_factor',
      'acc/meta',
      'acc/train',
    )
    diagnostics = meta_diagnostics.relabel_metric_names(clean)
    diagnostics += meta_diagnostics.evidence_metric_names(clean)
    super().__init__(ctx, method_cfg, names, diagnostics)
    # Divided at each log line (`summaries.pooled_ratios`).
    self.pooled_ratios = meta_diagnostics.RELABEL_POOLED_RATIOS if clean else {}

  def prepare(self, cfg, strategy, data, state, split):
    """The split with the neighbor-vote prior (--label_vote_neighbors > 0).

    Host, once, after the encoder is initialized (`label_prior.attach`).
    """
    if self._ieg.label_vote_neighbors <= 0:
      return split
    # Imported here: the prior reads the runtime's state, which imports the
    # steps.
    from ieg_tf.meta import label_prior

    return label_prior.attach(cfg, strategy, data, state, split)

  def _views(self, train: dict) -> list:
    missing = [k for k in self._view_keys if k not in train]
    if missing:
      raise UserError(
        f'--num_views={self._ieg.num_views} needs the train batch keys '
        f'{", ".join(missing)} (extra strong views), which the input '
        'pipeline did not provide; use --num_views=2.'
      )
    return [train[k] for k in self._view_keys]

  def _prior(self, train: dict):
    """The batch's neighbor-vote prior with --label_vote_neighbors, else None.

    Raises:
      UserError: the flag is on but the batch has no 'label_prior' (the
        prior was not attached, `label_prior.attach`): never train without
        it silently.
    """
    if self._ieg.label_vote_neighbors <= 0:
      return None
    if 'label_prior' not in train:
      raise UserError(
        '--label_vote_neighbors is set but the train batch has no '
        "'label_prior'; the prior must be attached to the train split."
      )
    return train['label_prior']

  def _compute_slice(
    self, params, non_trainable, slots, batch, seed, step, extra
  ) -> StepOutput:
    """The step on one meta slice (all of the replica when meta_groups=1)."""
    del extra
    ctx, m = self._ctx, self._ieg
    slices = meta_groups.num_slices(ctx)
    train, probe = batch['train'], batch['probe']
    labels = train['label']
    # Under the evidence rule MixUp trains on one half of the probe and the
    # evidence measures the network on the other (`probe_holdout.py`).
    holdout = None
    if m.relabel_rule == 'evidence' and 'holdout' in probe:
      holdout = probe['holdout']

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
        view_images=self._views(train),
        labels=labels,
        probe_images=probe['image'],
        probe_labels=probe['label'],
        meta_stepsize=self._m.meta_stepsize,
        meta_momentum=m.meta_momentum,
        grad_eps_init=m.grad_eps_init,
        temperature=m.label_temperature,
        weight_decay=ctx.weight_decay,
        decay_mask=ctx.decay_mask,
        weak_forward=weak_forward,
        weight_rule=self._m.meta_weight_rule,
        weight_source=self._m.weight_source,
        relabel_rule=m.relabel_rule,
        prior=self._prior(train),
        prior_mix=_VOTE_SHARE,
        probe_holdout=holdout,
      )
      weak_logits = meta.view_logits[0]
      if len(meta.view_logits) > 1:
        strong_logits = meta.view_logits[1]
      else:  # K = 1: the strong view still feeds MixUp and consistency.
        strong_logits = forward(params, train['image_strong'])
      mix_logits = mix_targets = mixup_pseudo_labels = None
      if m.ce_factor > 0 or m.consistency_factor > 0:
        mixup_pseudo_labels = meta.pseudo_labels
        if m.relabel_rule == 'evidence':
          # MixUp trains towards the posterior over the true class, not the
          # pseudo-label alone: with trusted labels that is the given label
          # (docs/algorithm.md, "MixUp targets on evidence").
          mixup_pseudo_labels = tf.cast(
            meta.class_posterior, meta.pseudo_labels.dtype
          )
        mix_probe_images, mix_probe_labels = probe['image'], probe['label']
        if holdout is not None:
          rows = probe_holdout.mixup_rows(holdout)
          mix_probe_images = tf.gather(mix_probe_images, rows)
          mix_probe_labels = tf.gather(mix_probe_labels, rows)
        mix_images, mix_targets = mixup.probe_noisy_mixup(
          seed,
          mix_probe_images,
          mix_probe_labels,
          train['image_weak'],
          train['image_strong'],
          mixup_pseudo_labels,
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
        num_replicas=slices,
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
      # The ramped MixUp factor this step (ce_factor once the ramp is over).
      'mixup/effective_factor': m.ce_factor * ramp,
      'acc/meta': meta.probe_accuracy,
      'acc/train': accuracy(labels, weak_logits),
    }
    diagnostics = meta_diagnostics.relabel_metrics(
      meta.eps, meta.pseudo_labels, train, clean
    )
    diagnostics.update(
      meta_diagnostics.evidence_metrics(
        meta.label_accuracy, meta.agreement, meta.model_accuracy, train, clean
      )
    )
    return self._slice_output(
      train,
      weak_logits,
      meta.weights,
      grads,
      meta.weak_state,
      metrics,
      diagnostics,
      eps=meta.eps,
    )
