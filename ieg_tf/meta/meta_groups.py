"""Meta steps as a function of a group size, not of the replica count.

A meta step (IEG, L2R, MW-Net) re-weights each replica's batch against that
replica's probe batch and normalizes the weights over it (the reference TPU
code does the same), so its update depends on how the global batch is cut.
`StepContext.meta_groups = G` cuts each replica's batch into G equal slices
and runs the one-slice step on every slice as if it were a replica:

  - gradients (model and extra) are SUMMED over the slices, as the runtime
    sums them over replicas, and every slice scales its loss for
    `num_replicas * G` slices (`slices`);
  - BatchNorm statistics from each slice's weak pass are AVERAGED, as the
    runtime averages them over replicas (batch statistics are per slice,
    because every forward pass runs on one slice);
  - metrics are averaged, per-example statistics concatenated in batch
    order;
  - slice g of a replica whose step seed is (s0, s1) gets the seed
    (s0, s1 * G + g). The runtime gives replica r the seed (s0, t * R + r)
    at step t, so slice g of replica r gets (s0, t * R * G + r * G + g): the
    seed of "replica r * G + g of R * G", whatever R and G are.

So one replica with G = 2 computes exactly what two replicas with G = 1
compute, and G = 1 is the plain per-replica step. Replica context, pure,
XLA-compilable (the loop over slices is unrolled at trace time).
"""

from collections.abc import Callable

import tensorflow as tf

from ieg_tf.meta.step_api import StepOutput


def num_slices(ctx) -> int:
  """Slices the global batch is re-weighted in: num_replicas * meta_groups."""
  return ctx.num_replicas * ctx.meta_groups


def check_groups(ctx) -> None:
  """Raises ValueError unless meta_groups >= 1 divides the per-replica batch."""
  groups = ctx.meta_groups
  if groups < 1:
    raise ValueError(f'meta_groups must be >= 1, got {groups}')
  if ctx.global_batch % (ctx.num_replicas * groups):
    raise ValueError(
      f'global batch {ctx.global_batch} does not split into '
      f'{ctx.num_replicas} replicas x {groups} meta groups'
    )


def slice_seed(seed: tf.Tensor, groups: int, index: int) -> tf.Tensor:
  """The stateless seed of slice `index` of `groups` (see module docstring).

  Args:
    seed: int [2] this replica's step seed.
    groups: G.
    index: g in [0, G).

  Returns:
    int [2], seed's dtype; `seed` itself when G = 1.
  """
  if groups == 1:
    return seed
  seed = tf.convert_to_tensor(seed)
  g = tf.constant(groups, seed.dtype)
  return tf.stack([seed[0], seed[1] * g + tf.constant(index, seed.dtype)])


def split_batch(batch, groups: int) -> list:
  """Cuts every tensor of a (nested) batch into `groups` equal row slices.

  Args:
    batch: nested dict of tensors with the same static leading size B.
    groups: G, dividing B.

  Returns:
    G nested dicts of [B / G, ...] tensors, in row order.
  """
  if groups == 1:
    return [batch]
  flat = tf.nest.flatten(batch)
  pieces = [tf.split(t, groups, axis=0) for t in flat]
  return [
    tf.nest.pack_sequence_as(batch, [p[g] for p in pieces])
    for g in range(groups)
  ]


def _sum(values):
  if all(v is None for v in values):
    return None
  return tf.add_n([v for v in values if v is not None])


def _mean(values):
  if not values[0].dtype.is_floating:
    return values[0]  # e.g. an integer counter: identical in every slice
  return tf.add_n(values) / tf.cast(len(values), values[0].dtype)


def combine(outputs: list) -> StepOutput:
  """Merges per-slice StepOutputs like the runtime merges replicas.

  Args:
    outputs: one StepOutput per slice, in row order.

  Returns:
    A StepOutput: summed grads and extra_grads, averaged BatchNorm
    statistics and metrics, concatenated per-example statistics.
  """
  if len(outputs) == 1:
    return outputs[0]
  first = outputs[0]
  grads = [_sum(list(g)) for g in zip(*(o.grads for o in outputs))]
  stats = [_mean(list(s)) for s in zip(*(o.new_non_trainable for o in outputs))]
  metrics = {
    k: tf.add_n([o.metrics[k] for o in outputs]) / float(len(outputs))
    for k in first.metrics
  }
  per_example = {
    k: tf.concat([o.per_example[k] for o in outputs], axis=0)
    for k in first.per_example
  }
  extra = [_sum(list(g)) for g in zip(*(o.extra_grads for o in outputs))]
  return StepOutput(grads, stats, metrics, per_example, extra)


def run_in_groups(
  compute_slice: Callable[..., StepOutput],
  groups: int,
  batch: dict,
  seed: tf.Tensor,
) -> StepOutput:
  """Runs `compute_slice(batch_slice, seed_slice)` per slice and combines.

  Args:
    compute_slice: fn(batch, seed) -> StepOutput for one slice (the caller
      closes over params, statistics, slots, step and extra values).
    groups: G = StepContext.meta_groups.
    batch: this replica's batch (noisy and probe parts are both cut).
    seed: int [2] this replica's step seed.

  Returns:
    The combined StepOutput (see `combine`).
  """
  slices = split_batch(batch, groups)
  return combine(
    [
      compute_slice(part, slice_seed(seed, groups, g))
      for g, part in enumerate(slices)
    ]
  )
