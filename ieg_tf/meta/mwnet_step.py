"""Meta-Weight-Net's per-replica train step (Shu et al. 2019; as used by
Ghosh & Lan). `--method=mwnet`.

A small MLP (1 -> hidden -> ReLU -> 1 -> sigmoid) maps each example's
cross-entropy (gradient stopped) to a weight. Per step and replica:

  1. look-ahead: theta' = theta - meta_stepsize * grad_theta sum_i w_i CE_i
     (+ R(theta)), w = MLP(CE) normalized over the slice, a plain SGD step
     (no momentum, as the paper's virtual step);
  2. the probe loss at theta' is differentiated w.r.t. the MLP's params;
     these gradients go back to the runtime as `extra_grads`, which applies
     them with its own momentum optimizer (`--mwnet_learning_rate`,
     momentum = --momentum); the MLP's weight decay (1e-4, the paper's) is
     added here;
  3. the real step minimizes sum_i w_i CE_i + R(theta) with the weights as
     constants.

Deviations, on purpose: (a) step 3 uses the MLP as it was at the START of
the step (the runtime applies the MLP update after `compute` returns, at the
same time as the classifier's), where the paper recomputes the weights with
the just-updated MLP; the MLP moves by one small step (LR 1e-3) per step, so
the weights lag by one such step. (b) Weights are normalized by their sum
over the slice, as the official MW-Net code does (Ghosh & Lan do not). (c)
The virtual step size is the constant --meta_stepsize (Ghosh & Lan's
constant inner LR, 0.1; the official code uses the current LR). (d) The MLP
optimizer is heavy-ball momentum, not Nesterov.

Each replica (or meta slice, `meta_groups.py`) normalizes over its own
examples and probe batch, like IEG and L2R; the MLP's gradients are summed
over slices with the per-replica-mean scaling, so they are the mean of the
slices' meta gradients.
"""

import tensorflow as tf

from ieg_tf.meta import losses, meta_groups, mwnet
from ieg_tf.meta.meta_step import MetaStep
from ieg_tf.meta.step_api import StepContext, StepOutput, accuracy

# Shu et al. 2019 (and Ghosh & Lan): the MLP's SGD weight decay.
MLP_WEIGHT_DECAY = 1e-4
# Seeds the MLP's initialization (deterministic; independent of --seed).
_INIT_SEED = (2019, 1007)


class MwnetStep(MetaStep):
  """`--method=mwnet`: owns the weighting MLP's variables.

  Batch: {'train': {'image_weak', 'label', 'index', ...}, 'probe': {'image',
  'label'}}. `compute`'s `extra` is the MLP's current values [w1 [1, H], b1
  [H], w2 [H, 1], b2 [1]] (the runtime's local copies of
  `extra_variables`); None reads the variables (eager use and tests). Its
  gradients return as `extra_grads`.
  """

  per_example_names = ('weight',)

  def __init__(
    self, ctx: StepContext, method_cfg, mwnet_cfg, init_seed=_INIT_SEED
  ):
    """Creates the MLP's variables (call inside `strategy.scope()`).

    Args:
      ctx: static step facts (meta_groups: see `meta_groups.py`).
      method_cfg: `config.MethodConfig` (meta_stepsize).
      mwnet_cfg: `config.MwnetConfig`.
      init_seed: two ints seeding the MLP's initialization.
    """
    names = (
      'loss/total',
      'loss/weighted_ce',
      'loss/weight_decay',
      'loss/meta',
      'acc/meta',
      'acc/train',
      'mwnet/raw_weight_mean',
    )
    super().__init__(ctx, method_cfg, names)
    init = mwnet.mwnet_init(
      tf.constant(init_seed, tf.int64), mwnet_cfg.mwnet_hidden_units
    )
    self.extra_variables = [
      tf.Variable(value, trainable=False, name=f'mwnet/{name}')
      for value, name in zip(init, ('w1', 'b1', 'w2', 'b2'))
    ]
    self.extra_learning_rate = float(mwnet_cfg.mwnet_learning_rate)

  def compute(
    self, params, non_trainable, slots, batch, seed, step, extra=None
  ) -> StepOutput:
    """`MetaStep.compute`, reading the MLP's variables when `extra` is None."""
    if extra is None:
      extra = [tf.convert_to_tensor(v) for v in self.extra_variables]
    return super().compute(
      params, non_trainable, slots, batch, seed, step, list(extra)
    )

  def _compute_slice(
    self, params, non_trainable, slots, batch, seed, step, extra
  ) -> StepOutput:
    """The step on one meta slice (all of the replica when meta_groups=1)."""
    del slots, seed, step
    mw = extra
    ctx = self._ctx
    slices = meta_groups.num_slices(ctx)
    train, probe = batch['train'], batch['probe']
    labels = train['label']

    def forward(p, x):
      return ctx.forward(p, non_trainable, x, training=True)[0]

    def weak_forward(p, x):
      return ctx.forward(p, non_trainable, x, training=True)

    with tf.GradientTape() as tape:
      tape.watch(params)
      # The look-ahead's weak pass is recorded here too, so its logits serve
      # the real step (one forward pass fewer) and its statistics update BN.
      meta = mwnet.mwnet_meta_gradients(
        forward,
        params,
        None,
        mw,
        images=train['image_weak'],
        labels=labels,
        probe_images=probe['image'],
        probe_labels=probe['label'],
        meta_stepsize=self._m.meta_stepsize,
        weight_decay=ctx.weight_decay,
        meta_momentum=0.0,
        decay_mask=ctx.decay_mask,
        normalize=True,
        weak_forward=weak_forward,
      )
      logits, new_nt = meta.aux
      ce = losses.sparse_cross_entropy(labels, logits)
      raw = mwnet.mwnet_forward(mw, tf.stop_gradient(ce))
      weights = tf.stop_gradient(mwnet.normalize_weights(raw))
      penalty = losses.l2_penalty(params, ctx.decay_mask, ctx.weight_decay)
      terms = mwnet.mwnet_final_loss(
        logits=logits,
        labels=labels,
        weights=weights,
        penalty=penalty,
        global_batch=ctx.global_batch,
        num_replicas=slices,
        normalize=True,
      )
    grads = tape.gradient(terms['total'], params)
    # The probe loss is a per-slice mean: scale like every per-replica mean.
    extra_grads = [
      losses.scale_replica_mean(g + MLP_WEIGHT_DECAY * p, slices)
      for g, p in zip(meta.meta_grads, mw)
    ]
    metrics = {
      'loss/total': terms['net_loss'],
      'loss/weighted_ce': terms['weighted_ce'],
      'loss/weight_decay': terms['l2'],
      'loss/meta': meta.probe_loss,
      'acc/meta': meta.probe_accuracy,
      'acc/train': accuracy(labels, logits),
      'mwnet/raw_weight_mean': tf.reduce_mean(raw),
    }
    return self._slice_output(
      train, logits, weights, grads, new_nt, metrics, extra_grads=extra_grads
    )
