"""Per-example training statistics (meta weights, relabel rates) for the report.

The label-noise report wants, for every training example, the meta weight and
relabel decision the method gave it, averaged over the last
`--report_window_steps` of training. Each step visits a batch of rows of the
train split, so the statistics live in dense per-row tables:

  sum_<name>, count_<name>: running sum / number of finite values seen at
    steps >= `window_start_step` (the window average is sum / count);
  last_<name>: the most recent value seen at any step (NaN = never), the
    fallback for rows the window has not visited and for a report made
    before the window starts.

The tables are mirrored variables updated once per step with the rows of ALL
replicas: each replica all-gathers the batch in replica context, then one
merge_call scatters the gathered rows into every copy. Only scatters,
all-gathers and a merge_call are used, so the update runs in TPU replica
context too (no hash tables, no py_function).
"""

from typing import Sequence

import numpy as np
import tensorflow as tf

from ieg_tf.optim.momentum import tf_variable


class ExampleStats(tf.Module):
  """Window averages and last values of per-example statistics.

  Create it inside `strategy.scope()` (the tables become mirrored variables)
  and track it in the training checkpoint.
  """

  def __init__(
    self,
    num_examples: int,
    names: Sequence[str],
    window_start_step: int,
    name: str = 'example_stats',
  ):
    """Creates the tables.

    Args:
      num_examples: N, rows of the train split (the `index` key of a batch).
      names: statistics a step reports per example, e.g. ('weight',
        'relabel').
      window_start_step: first optimizer step (0-based: the step counter
        before the update) whose values enter the window average; usually
        train_steps - report_window_steps.
      name: module name.
    """
    super().__init__(name=name)
    if num_examples < 1:
      raise ValueError(f'num_examples must be >= 1, got {num_examples}')
    if not names or len(set(names)) != len(names) or 'index' in names:
      raise ValueError(f'names must be distinct and not "index": {names}')
    self.num_examples = int(num_examples)
    self.names = tuple(names)
    self.window_start_step = int(window_start_step)
    self._sums, self._counts, self._last = {}, {}, {}
    with tf.init_scope():
      for n in self.names:
        self._sums[n] = self._table(f'sum_{n}', 0.0)
        self._counts[n] = self._table(f'count_{n}', 0.0)
        self._last[n] = self._table(f'last_{n}', np.nan)
    # Attributes the checkpoint tracks by name (dicts of variables are
    # tracked too, but explicit lists keep the checkpoint keys readable).
    self.sums = [self._sums[n] for n in self.names]
    self.counts = [self._counts[n] for n in self.names]
    self.last = [self._last[n] for n in self.names]

  def _table(self, name: str, fill: float) -> tf.Variable:
    return tf.Variable(
      tf.fill([self.num_examples], tf.constant(fill, tf.float32)),
      trainable=False,
      name=name,
    )

  def update(self, step: tf.Tensor, per_example: dict):
    """Records one step's per-example values; REPLICA context.

    Call it inside `strategy.run` (or with no strategy) from every replica,
    in the same order relative to other collectives on all replicas.

    Args:
      step: int scalar, optimizer steps taken before this update.
      per_example: {'index': int32 [B_replica] rows of the train split,
        name: float [B_replica] for each of `names`}. Non-finite values are
        not recorded.
    """
    ctx = tf.distribute.get_replica_context()
    local = {'index': tf.cast(per_example['index'], tf.int32)}
    for n in self.names:
      local[n] = tf.cast(per_example[n], tf.float32)
    gathered = local
    if ctx.num_replicas_in_sync > 1:
      # Every replica then holds the rows of all replicas, so each copy of
      # the mirrored tables receives the same update.
      keys = sorted(local)
      # MultiWorkerMirrored's all_gather fails ("destinations can not be
      # empty") on tensors taken straight from the input iterator.
      values = ctx.all_gather([tf.identity(local[k]) for k in keys], axis=0)
      gathered = dict(zip(keys, values))
    in_window = tf.cast(step, tf.int64) >= self.window_start_step
    # Variables travel in the closure: merge_call would regroup `args`.
    ctx.merge_call(
      lambda strategy, g, w: self._apply(strategy, g, w),
      args=(gathered, in_window),
    )

  def _apply(self, strategy, gathered: dict, in_window):
    """Scatters the gathered rows into every copy; cross-replica context."""

    def add_window(var, index, value, window):
      take = tf.math.is_finite(value) & window
      var.scatter_nd_add(index[:, None], tf.where(take, value, 0.0))

    def count_window(var, index, value, window):
      take = tf.math.is_finite(value) & window
      var.scatter_nd_add(index[:, None], tf.cast(take, tf.float32))

    def set_last(var, index, value):
      # A non-finite value keeps the previous last value.
      old = tf.gather(var, index)
      var.scatter_nd_update(
        index[:, None], tf.where(tf.math.is_finite(value), value, old)
      )

    index = gathered['index']
    for n in self.names:
      value = gathered[n]
      # One update per variable: `extended.update` hands `fn` the local
      # copy of its first argument only.
      for var, fn, args in (
        (self._sums[n], add_window, (index, value, in_window)),
        (self._counts[n], count_window, (index, value, in_window)),
        (self._last[n], set_last, (index, value)),
      ):
        strategy.extended.update(tf_variable(var), fn, args=args, group=False)

  def snapshot(self) -> dict:
    """The tables as numpy arrays; HOST context.

    Returns:
      For each name n: `n` float32 [N] the window mean, else the last value
      seen, NaN if the row was never seen; `n/count` float32 [N] values in
      the window; `n/last` float32 [N] the last value seen (NaN = never).
    """
    out = {}
    for n in self.names:
      sums = self._sums[n].numpy()
      counts = self._counts[n].numpy()
      last = self._last[n].numpy()
      with np.errstate(invalid='ignore', divide='ignore'):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1.0), last)
      out[n] = mean.astype(np.float32)
      out[f'{n}/count'] = counts.astype(np.float32)
      out[f'{n}/last'] = last.astype(np.float32)
    return out
