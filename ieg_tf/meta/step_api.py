"""What every training method hands the runtime: one per-replica step.

The runtime (`ieg_tf/runtime/train_loop.py`) reads the variables, calls
`compute(params, non_trainable, slots, batch, seed, step)` in replica context
(optionally XLA-compiled), all-reduces the gradients, assigns the BatchNorm
statistics and applies the optimizer. A method therefore never touches
variables or strategies: `compute` is a pure function of tensors, which is
what lets it compile for a TPU.

A step may own variables (Meta-Weight-Net's MLP): it creates them in its
constructor (called inside `strategy.scope()`) and lists them in
`extra_variables`, with `extra_learning_rate`; the runtime then passes their
values as `compute(..., extra=[tensors])` and applies
`StepOutput.extra_grads` with its own momentum optimizer. Meta steps also
set `per_example_names` and return `StepOutput.per_example` for the label
report.
"""

import dataclasses
import types
from typing import Callable, Mapping, NamedTuple, Protocol, Sequence
from typing import runtime_checkable

import tensorflow as tf

# forward(params, non_trainable, images, training) -> (logits, new_non_trainable)
# Keras: `model.stateless_call`.
Forward = Callable[..., tuple]


@dataclasses.dataclass(frozen=True)
class StepContext:
  """Static facts a step needs (known before tracing).

  Attributes:
    forward: the functional network call.
    global_batch: noisy examples per step across replicas.
    num_replicas: replicas in sync.
    num_classes: C.
    weight_decay: wd of the explicit L2 loss.
    decay_mask: which trainable variables are decayed.
    clean_labels_known: batches carry 'clean_label' (diagnostics only).
    meta_groups: equal slices each replica's batch (noisy and probe) is
      split into for the meta steps (IEG, L2R, MW-Net). Each slice is
      re-weighted, normalized and (for IEG) pseudo-labeled and mixed on its
      own, exactly as a replica is, so the update depends on
      `num_replicas * meta_groups` slices of `global_batch / (num_replicas *
      meta_groups)` examples, not on the replica count: one replica with
      meta_groups=2 computes what two replicas with meta_groups=1 compute.
      The runtime keeps 1 (the reference's per-replica semantics).
  """

  forward: Forward
  global_batch: int
  num_replicas: int
  num_classes: int
  weight_decay: float
  decay_mask: tuple
  clean_labels_known: bool = False
  meta_groups: int = 1


class StepOutput(NamedTuple):
  """Result of one per-replica step.

  Attributes:
    grads: list of float tensors aligned with the trainable params; this
      replica's share (the runtime SUMS them over replicas).
    new_non_trainable: updated BatchNorm statistics from the weak-view pass.
    metrics: dict name -> float32 scalar, per-replica means (the runtime
      averages them over replicas and steps).
    per_example: dict name -> float32 [B_replica] per-example statistics
      (e.g. 'weight', 'relabel') plus 'index' int32 [B_replica], the rows of
      the train split; the runtime accumulates them for the label report.
      Empty for methods without per-example statistics.
    extra_grads: gradients for the step's own variables
      (`step.extra_variables`, e.g. the Meta-Weight-Net), this replica's share
      (SUMMED over replicas like `grads`); empty when it has none.
  """

  grads: list
  new_non_trainable: list
  metrics: dict
  per_example: dict = {}
  extra_grads: list = []


@runtime_checkable
class TrainStep(Protocol):
  """What the runtime reads from a method's step (host, before tracing).

  Attributes:
    needs_probe: batches carry a 'probe' dict (meta methods).
    needs_strong_view: train batches carry 'image_strong'.
    num_strong_views: strong views per example the input must provide.
    metric_names: names of `StepOutput.metrics`, in logging order.
    pooled_ratios: {ratio name: (numerator, denominator)} over
      `metric_names`, divided at each log line (`runtime/summaries.py`).
    per_example_names: names of `StepOutput.per_example` rows kept for the
      label report; () for none.
    extra_variables: the step's own variables (MW-Net's MLP); () for none.
    extra_learning_rate: their constant learning rate.
  """

  needs_probe: bool
  needs_strong_view: bool
  num_strong_views: int
  metric_names: tuple
  pooled_ratios: Mapping
  per_example_names: tuple
  extra_variables: Sequence
  extra_learning_rate: float

  def compute(
    self, params, non_trainable, slots, batch, seed, step, extra=None
  ) -> StepOutput:
    """One per-replica step (replica context, XLA-compilable)."""

  def prepare(self, cfg, strategy, data, state, split):
    """Host work before the first step: returns the split to train on.

    Called once per run, after the encoder is initialized; IEG attaches its
    neighbor-vote prior here.
    """


class StepDefaults:
  """`TrainStep`'s attributes for a step that needs none of them.

  A method's step class inherits this and overrides what it uses, so the
  runtime reads every attribute directly.
  """

  needs_probe = False
  needs_strong_view = False
  num_strong_views = 1
  metric_names = ()
  pooled_ratios = types.MappingProxyType({})
  per_example_names = ()
  extra_variables = ()
  extra_learning_rate = 0.0

  def prepare(self, cfg, strategy, data, state, split):
    """No host work: trains on `split` as it is."""
    del cfg, strategy, data, state
    return split


def rampup(step: tf.Tensor, rampup_steps: int) -> tf.Tensor:
  """Linear ramp min(1, step / rampup_steps); 1 when rampup_steps == 0.

  Args:
    step: int scalar, optimizer steps taken so far.
    rampup_steps: steps until the full value.

  Returns:
    float32 scalar in [0, 1].
  """
  if rampup_steps <= 0:
    return tf.constant(1.0)
  return tf.minimum(tf.cast(step, tf.float32) / float(rampup_steps), 1.0)


def accuracy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
  """Fraction of argmax(logits) == labels; float32 scalar."""
  pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
  return tf.reduce_mean(
    tf.cast(tf.equal(pred, tf.cast(labels, tf.int32)), tf.float32)
  )
