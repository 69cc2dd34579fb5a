"""metrics.jsonl and TensorBoard scalars, written from the host loop.

Only the chief writes real files; other workers write nothing (so a
multi-worker run has one metrics.jsonl). Every jsonl line is one flat JSON
object with `step`.
"""

import json
import math
import os

import tensorflow as tf


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
