"""metrics.jsonl and TensorBoard scalars, written from the host loop.

Only the chief writes real files; other workers write nothing (so a
multi-worker run has one metrics.jsonl). Every jsonl line is one flat JSON
object with `step`.

Resume: lines of the train stage with a step after the restored checkpoint
describe work that is being redone; `rollback_after` moves them (and any
line cut short by a kill) to metrics.rolled_back.jsonl, so metrics.jsonl of a
resumed run reads like one uninterrupted run. Lines of other stages (with a
`mode` or `stage` key, or `pretrain/` metrics) are never moved.
"""

import json
import math
import os

import numpy as np
import tensorflow as tf

ROLLED_BACK = 'metrics.rolled_back.jsonl'


class MetricsWriter:
  """Appends metric lines to <workdir>/metrics.jsonl and TensorBoard."""

  def __init__(self, workdir: str, is_chief: bool = True):
    self._enabled = is_chief
    self.path = os.path.join(workdir, 'metrics.jsonl')
    self._tb = None
    if is_chief:
      self._tb = tf.summary.create_file_writer(
        os.path.join(workdir, 'tensorboard')
      )

  def write(self, step: int, metrics: dict):
    """Writes one line and the scalars of `metrics` at `step` (host)."""
    if not self._enabled:
      return
    row = {'step': int(step)}
    for k, v in metrics.items():
      v = float(v) if not isinstance(v, (int, str)) else v
      # JSON has no NaN/inf; keep the line parseable and the fact visible.
      row[k] = v if not isinstance(v, float) or math.isfinite(v) else str(v)
    with tf.io.gfile.GFile(self.path, 'a') as f:
      f.write(json.dumps(row, sort_keys=True) + '\n')
    with self._tb.as_default(step=int(step)):
      for k, v in metrics.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
          tf.summary.scalar(k, float(v))
    self._tb.flush()

  def close(self):
    if self._tb is not None:
      self._tb.close()


def read_metrics(workdir: str) -> list:
  """All lines of <workdir>/metrics.jsonl as dicts (for tests and scripts)."""
  path = os.path.join(workdir, 'metrics.jsonl')
  if not tf.io.gfile.exists(path):
    return []
  with tf.io.gfile.GFile(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def _train_stage(row: dict) -> bool:
  return not (
    'mode' in row
    or 'stage' in row
    or any(k.startswith('pretrain/') for k in row)
  )


def rollback_after(workdir: str, step: int) -> int:
  """Moves train lines with step > `step` and torn lines aside (host, chief).

  Args:
    workdir: run directory.
    step: the restored step (0 for a fresh start).

  Returns:
    The number of lines moved to metrics.rolled_back.jsonl.
  """
  path = os.path.join(workdir, 'metrics.jsonl')
  if not tf.io.gfile.exists(path):
    return 0
  with tf.io.gfile.GFile(path) as f:
    lines = [line for line in f.read().split('\n') if line.strip()]
  keep, moved = [], []
  for line in lines:
    try:
      row = json.loads(line)
    except ValueError:  # cut short by a kill
      moved.append(line)
      continue
    if _train_stage(row) and int(row.get('step', 0)) > step:
      moved.append(line)
    else:
      keep.append(line)
  if not moved:
    return 0
  with tf.io.gfile.GFile(os.path.join(workdir, ROLLED_BACK), 'a') as f:
    f.write(''.join(line + '\n' for line in moved))
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    f.write(''.join(line + '\n' for line in keep))
  tf.io.gfile.rename(tmp, path, overwrite=True)
  return len(moved)


def last_eval(workdir: str) -> dict | None:
  """The newest train-stage line with `eval/top1`, or None."""
  rows = [
    r for r in read_metrics(workdir) if 'eval/top1' in r and _train_stage(r)
  ]
  return rows[-1] if rows else None


def pooled_ratios(means: dict, ratios: dict) -> dict:
  """Turns pooled shares into the ratios they define (host, pure python).

  sum_t num_t / sum_t den_t over the steps (and replicas) of an interval is
  mean(num) / mean(den) of the interval's means, so dividing the window's
  means gives the ratio over every example of the interval.

  Args:
    means: {metric: float} an interval's means (`MetricWindow`).
    ratios: {ratio name: (numerator, denominator)} (e.g. `meta_diagnostics.RELABEL_POOLED_RATIOS`).

  Returns:
    A copy of `means` with each ratio whose two shares are present added
    (0.0 when the denominator is 0: no example of the interval was replaced
    / noisy) and the numerator shares removed (the denominators stay: they
    are metrics of their own).
  """
  out = dict(means)
  numerators = set()
  for name, (num, den) in ratios.items():
    if num in means and den in means:
      out[name] = means[num] / means[den] if means[den] > 0 else 0.0
      numerators.add(num)
  for num in numerators:
    out.pop(num, None)
  return out


class MetricWindow(tf.Module):
  """Train-metric sums since the last log line, kept in the checkpoint.

  The compiled loop returns per-chunk means; the host adds mean * steps here
  and writes sum / steps at each log step. Being variables (float64, host),
  the sums survive a resume in the middle of a log interval, so the next
  line is the same as in an uninterrupted run. Ratios over a subset of the
  examples (e.g. the accuracy of the replaced labels) are logged by the step
  as two shares of all examples and divided here, at the flush, so the line
  holds the ratio over every example of the interval
  (`pooled_ratios`).
  """

  def __init__(self, names, name: str = 'train_metric_window', ratios=None):
    """Args:
    names: the step's metric names (the loop's chunk means).
    name: the module's name in the checkpoint.
    ratios: {ratio name: (numerator, denominator)} over `names`, or None.
    """
    super().__init__(name=name)
    self.names = tuple(names)
    self.ratios = dict(ratios or {})
    with tf.init_scope():
      self.sums = [
        tf.Variable(0.0, dtype=tf.float64, trainable=False, name=f'sum_{i}')
        for i in range(len(self.names))
      ]
      self.steps = tf.Variable(0, dtype=tf.int64, trainable=False)

  def add(self, means: dict, steps: int):
    """Adds a chunk's means over `steps` finite steps (host, eager)."""
    if steps <= 0:
      return
    for name, var in zip(self.names, self.sums):
      var.assign_add(float(np.float64(means[name]) * steps))
    self.steps.assign_add(steps)

  def flush(self) -> dict:
    """The means since the last flush ({} when no finite step), then resets."""
    steps = int(self.steps.numpy())
    out = {}
    if steps:
      out = {n: float(v.numpy()) / steps for n, v in zip(self.names, self.sums)}
      out = pooled_ratios(out, self.ratios)
    for var in self.sums:
      var.assign(0.0)
    self.steps.assign(0)
    return out
