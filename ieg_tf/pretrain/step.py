"""The per-replica contrastive (SimCLR) step: a pure function of tensors.

`compute(params, non_trainable, batch)` runs in replica context: both views
go through encoder + head in ONE batch (so BatchNorm normalizes over both),
the projections are L2-normalized, gathered from all replicas, and NT-Xent
is taken against the global batch. It returns this replica's gradients of
  sum over local pairs (loss_a + loss_b) / GLOBAL batch
(the project's scaling rule; the optimizer SUMS them over replicas), the
new BatchNorm statistics and metrics. Weight decay is in LARS, not here.

With `jit_compile` the forward pass and the loss math are XLA-compiled as
two functions and the gather between them stays outside XLA: a collective
inside an XLA function fails under MirroredStrategy, while inside one
TPU computation the whole step is compiled anyway.
"""

from typing import Callable, NamedTuple

import tensorflow as tf

from ieg_tf.pretrain import nt_xent

METRIC_NAMES = (
  'pretrain/loss',
  'pretrain/contrast_acc',
  'pretrain/contrast_entropy',
)


class ContrastiveOutput(NamedTuple):
  """Result of one per-replica step.

  Attributes:
    grads: float32 tensors aligned with the trainable params (this
      replica's share; summed over replicas by the optimizer).
    new_non_trainable: BatchNorm moving statistics after this batch.
    metrics: METRIC_NAMES -> float32 scalars over the local pairs.
  """

  grads: list
  new_non_trainable: list
  metrics: dict


class ContrastiveStep:
  """NT-Xent step on {'view1', 'view2'} batches."""

  metric_names = METRIC_NAMES

  def __init__(
    self,
    forward: Callable,
    *,
    temperature: float,
    global_batch: int,
    jit_compile: bool = False,
  ):
    """Args:
    forward: (params, non_trainable, images, training) -> (projections,
      new_non_trainable), e.g. `ContrastiveModel.model.stateless_call`.
    temperature: NT-Xent tau.
    global_batch: pairs per step across all replicas (N).
    jit_compile: XLA-compile the forward pass and the loss math.
    """
    self._temperature = float(temperature)
    self._global_batch = int(global_batch)

    def project(params, non_trainable, images):
      z, new_nt = forward(params, non_trainable, images, training=True)
      return nt_xent.l2_normalize_rows(z), new_nt

    def loss(h1, h2, all_h1, all_h2, offset):
      per_pair, metrics = nt_xent.nt_xent_per_pair(
        h1, h2, all_h1, all_h2, offset, self._temperature
      )
      return tf.reduce_sum(per_pair), per_pair, metrics

    if jit_compile:
      project = tf.function(project, jit_compile=True)
      loss = tf.function(loss, jit_compile=True)
    self._project = project
    self._loss = loss

  def compute(self, params, non_trainable, batch) -> ContrastiveOutput:
    """One step's gradients (replica context).

    Args:
      params: float32 tensors, the trainable weights (encoder, then head).
      non_trainable: BatchNorm statistics tensors.
      batch: {'view1', 'view2'}: float32 [n, H, W, C] in [-1, 1], row i of
        both views from the same image.

    Returns:
      ContrastiveOutput.
    """
    images = tf.concat([batch['view1'], batch['view2']], axis=0)
    n = tf.shape(batch['view1'])[0]
    with tf.GradientTape() as tape:
      tape.watch(params)
      h, new_nt = self._project(params, non_trainable, images)
      h1, h2 = h[:n], h[n:]
      all_h1, offset = nt_xent.gather_replicas(h1)
      all_h2, _ = nt_xent.gather_replicas(h2)
      summed, per_pair, metrics = self._loss(h1, h2, all_h1, all_h2, offset)
      total = summed / float(self._global_batch)
    grads = tape.gradient(total, params)
    out = {
      'pretrain/loss': tf.reduce_mean(per_pair),
      'pretrain/contrast_acc': metrics['contrast_acc'],
      'pretrain/contrast_entropy': metrics['contrast_entropy'],
    }
    return ContrastiveOutput(list(grads), list(new_nt), out)
