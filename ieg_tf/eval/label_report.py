"""--mode=report: which training labels are probably wrong, and what to use.

Restores the newest training checkpoint, predicts every training example with
the reported model (EMA weights when EMA is on, as eval/top1) averaged over
its plain and weak views, adds the per-example meta weights / relabel rates
recorded during training (`ieg_tf/runtime/example_stats.py`), scores and
flags each example (`ieg_tf/eval/suspicion.py` documents the score, the
`suspect` rule and why) and writes `<workdir>/label_report.csv`, most suspect
first. With known clean labels (synthetic noise) it also measures itself:
precision / recall / F1 of `suspect` and ROC-AUC of the score against the
truth, logged to metrics.jsonl, plus confusion-matrix images in TensorBoard.
"""

import csv
import io
import os

from absl import logging
import numpy as np
import tensorflow as tf

from ieg_tf.data import pipeline
from ieg_tf.errors import UserError
from ieg_tf.eval import precise_bn, report_predict, suspicion
from ieg_tf.runtime import image_summaries, summaries, trainer

REPORT_FILE = 'label_report.csv'


def _fmt(value) -> str:
  """CSV cell: '' for missing (NaN / None), 6 significant digits for floats."""
  if value is None:
    return ''
  if isinstance(value, (float, np.floating)):
    return '' if not np.isfinite(value) else f'{float(value):.6g}'
  return str(value)


def build_table(
  split,
  class_names,
  preds: report_predict.Predictions,
  stats: dict | None,
) -> dict:
  """Every column of the report, in split row order (host, pure numpy).

  Args:
    split: the training split (ids, labels, paths, clean_labels).
    class_names: C names.
    preds: predictions for the split's rows.
    stats: `ExampleStats.snapshot()` or None.

  Returns:
    {column: np.ndarray [N]} plus 'order' (int [N], most suspect first).
  """
  stats = stats or {}
  n = len(split)
  names = np.asarray(class_names, dtype=object)
  weight = stats.get('weight')
  relabel = stats.get('relabel')
  score = suspicion.suspicion_score(preds.p_given)
  suspect = suspicion.suspect_flags(split.labels, preds.suggested)
  empty = np.full(n, np.nan)
  table = {
    'id': split.ids,
    'given_label': split.labels,
    'given_class': names[split.labels],
    'suggested_label': preds.suggested,
    'suggested_class': names[preds.suggested],
    'p_given': preds.p_given,
    'p_suggested': preds.p_suggested,
    'weight': empty if weight is None else weight,
    'weight_steps': empty if weight is None else stats['weight/count'],
    'relabel_rate': empty if relabel is None else relabel,
    'suspicion': score,
    'suspect': suspect.astype(np.int32),
  }
  if split.paths is not None:
    table['path'] = split.paths
  if split.clean_labels is not None:
    table['clean_label'] = split.clean_labels
    table['is_noisy'] = (split.labels != split.clean_labels).astype(np.int32)
  table['order'] = suspicion.ranking(score, preds.p_suggested, split.ids)
  return table


# Output column order; absent columns (path, clean labels) are skipped.
COLUMNS = (
  'rank',
  'id',
  'path',
  'given_label',
  'given_class',
  'suggested_label',
  'suggested_class',
  'p_given',
  'p_suggested',
  'weight',
  'weight_steps',
  'relabel_rate',
  'suspicion',
  'suspect',
  'clean_label',
  'is_noisy',
)


def csv_text(table: dict) -> str:
  """The CSV file: header and one line per row, most suspect first."""
  columns = [c for c in COLUMNS if c == 'rank' or c in table]
  buf = io.StringIO()
  out = csv.writer(buf, lineterminator='\n')
  out.writerow(columns)
  for rank, row in enumerate(table['order'], start=1):
    out.writerow(
      [rank if c == 'rank' else _fmt(table[c][row]) for c in columns]
    )
  return buf.getvalue()


def quality_metrics(table: dict) -> dict:
  """'report/*' metrics; against the truth when `is_noisy` is known."""
  suspect = table['suspect'].astype(bool)
  out = {
    'report/num_examples': int(len(suspect)),
    'report/suspects': int(suspect.sum()),
    'report/suspect_rate': float(suspect.mean()) if len(suspect) else 0.0,
  }
  if 'is_noisy' not in table:
    return out
  noisy = table['is_noisy'].astype(bool)
  out['report/noise_rate'] = float(noisy.mean())
  for k, v in suspicion.detection_metrics(suspect, noisy).items():
    out[f'report/{k}'] = float(v)
  out['report/auc'] = suspicion.roc_auc(table['suspicion'], noisy)
  # The meta statistics on their own (rows that have them), to show why
  # they are not part of the score (see suspicion.py).
  for key, column, sign in (
    ('auc_weight', 'weight', -1.0),
    ('auc_relabel', 'relabel_rate', 1.0),
  ):
    known = np.isfinite(table[column])
    if known.any():
      out[f'report/{key}'] = suspicion.roc_auc(
        sign * table[column][known], noisy[known]
      )
  fixes = table['suggested_label'] == table['clean_label']
  out['report/suggested_accuracy'] = float(fixes.mean())
  if suspect.any():
    out['report/suspect_suggested_accuracy'] = float(fixes[suspect].mean())
  return out


def run_report(cfg, strategy, data, state) -> dict:
  """--mode=report (host; every worker calls it, the chief writes files).

  Args:
    cfg: the run's config.
    strategy: distribution strategy.
    data: `PreparedData`; `data.train` is reported.
    state: `TrainState` (model, EMA, example statistics, checkpoints).

  Returns:
    Flat dict: 'step', 'report/path' and the `quality_metrics`.

  Raises:
    UserError: no checkpoint in the workdir.
  """
  if state.checkpointer.restore_latest() is None:
    raise UserError(
      f'--mode=report found no checkpoint in {state.checkpointer.directory}; '
      'train first (--mode=train) with the same --workdir.'
    )
  split = data.train
  statistics = precise_bn.for_run(
    cfg, strategy, data, state, data.training_split(cfg.method.method)
  )
  statistics.refresh()
  preds = report_predict.predict_split(
    strategy,
    state.network.model,
    state.ema,
    split,
    cfg.run.eval_batch_size or cfg.run.batch_size,
    flip=pipeline.allows_flip(data.name),
    seed=cfg.data.seed,
    statistics=statistics,
  )
  stats = None
  example_stats = getattr(state, 'example_stats', None)
  if example_stats is not None:
    if example_stats.num_examples == len(split):
      stats = example_stats.snapshot()
    else:
      logging.warning(
        'example statistics have %d rows, the train split %d: left out',
        example_stats.num_examples,
        len(split),
      )
  table = build_table(split, data.class_names, preds, stats)
  metrics = quality_metrics(table)
  step = state.step
  path = os.path.join(cfg.run.workdir, REPORT_FILE)
  result = dict(metrics, step=step)
  result['report/path'] = path
  if not trainer.is_chief(strategy):
    return result
  with tf.io.gfile.GFile(path, 'w') as f:
    f.write(csv_text(table))
  writer = summaries.MetricsWriter(cfg.run.workdir)
  writer.write(step, dict(metrics, mode='report'))
  writer.close()
  c = data.num_classes
  image_summaries.write_confusion(
    cfg.run.workdir,
    'report/confusion_given_vs_suggested',
    suspicion.confusion_matrix(split.labels, table['suggested_label'], c),
    step,
  )
  if split.clean_labels is not None:
    image_summaries.write_confusion(
      cfg.run.workdir,
      'report/confusion_true_vs_suggested',
      suspicion.confusion_matrix(
        split.clean_labels, table['suggested_label'], c
      ),
      step,
    )
  image_summaries.write_weight_histograms(
    cfg.run.workdir, example_stats, split, step
  )
  logging.info(
    'label report (step %d): %s',
    step,
    ' '.join(f'{k}={_fmt(v)}' for k, v in metrics.items()),
  )
  return result
