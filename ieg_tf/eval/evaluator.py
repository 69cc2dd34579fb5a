"""Top-1 / top-5 over a padded, distributed eval set, for raw and EMA weights.

Each eval example counts exactly once: the pipeline pads the last batches
and the mask zeroes the padding. Counts are summed over replicas and steps.
"""

import tensorflow as tf

from ieg_tf.data import pipeline
from ieg_tf.data.split import Split
from ieg_tf.eval import precise_bn


def topk_correct(labels, logits, mask, k):
  """Masked count of examples whose label is among the top-k logits.

  Args:
    labels: int32 [B].
    logits: float [B, C].
    mask: float32 [B], 1 for real examples, 0 for padding.
    k: k (clipped to C).

  Returns:
    float32 scalar count.
  """
  k = min(k, int(logits.shape[-1]))
  hit = tf.math.in_top_k(
    tf.cast(labels, tf.int32), tf.cast(logits, tf.float32), k
  )
  return tf.reduce_sum(tf.cast(hit, tf.float32) * mask)


class Evaluator:
  """Evaluates a model (and its EMA weights) on one split."""

  def __init__(
    self,
    strategy: tf.distribute.Strategy,
    model,
    ema,
    split: Split,
    global_batch: int,
    statistics=None,
  ):
    """Args:
    strategy: strategy the model lives in.
    model: Keras model.
    ema: WeightEMA or None (then only raw weights are evaluated).
    split: eval split.
    global_batch: eval examples per step across replicas.
    statistics: BN statistics per weight set (`precise_bn`); None = the
      stored moving averages. The caller refreshes them.
    """
    self._strategy = strategy
    self._model = model
    self._ema = ema
    self._statistics = statistics or precise_bn.MovingStatistics(model)
    self._dataset = strategy.distribute_datasets_from_function(
      pipeline.eval_dataset_fn(split, global_batch)
    )
    self.num_examples = len(split)
    self._step = tf.function(self._distributed_step)

  def _replica_step(self, batch):
    model = self._model
    weights = {
      'raw': [tf.convert_to_tensor(v.value) for v in model.trainable_variables]
    }
    if self._ema is not None:
      weights['ema'] = self._ema.values()
    counts = {'count': tf.reduce_sum(batch['mask'])}
    for name, params in weights.items():
      logits, _ = model.stateless_call(
        params, self._statistics.values(name), batch['image'], training=False
      )
      for k in (1, 5):
        counts[f'top{k}_{name}'] = topk_correct(
          batch['label'], logits, batch['mask'], k
        )
    return counts

  def _distributed_step(self, batch):
    per_replica = self._strategy.run(self._replica_step, args=(batch,))
    return {
      k: self._strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
      for k, v in per_replica.items()
    }

  def evaluate(self) -> dict:
    """Runs one pass; host context.

    Returns:
      {'eval/top1', 'eval/top5'} of the reported model (EMA when on),
      {'eval/top1_raw', 'eval/top5_raw'} and, with EMA,
      {'eval/top1_ema', 'eval/top5_ema'}, plus 'eval/num_examples'.
    """
    totals = {}
    for batch in self._dataset:
      for k, v in self._step(batch).items():
        totals[k] = totals.get(k, 0.0) + float(v)
    n = max(totals['count'], 1.0)
    out = {'eval/num_examples': int(totals['count'])}
    for name in ('raw', 'ema'):
      if f'top1_{name}' in totals:
        out[f'eval/top1_{name}'] = totals[f'top1_{name}'] / n
        out[f'eval/top5_{name}'] = totals[f'top5_{name}'] / n
    best = 'ema' if self._ema is not None else 'raw'
    out['eval/top1'] = out[f'eval/top1_{best}']
    out['eval/top5'] = out[f'eval/top5_{best}']
    return out
