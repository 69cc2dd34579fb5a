"""One row per finished study cell: final accuracy, wall-clock, diagnostics.

A cell is one `python -m ieg_tf.main` run in <out>/<setting>/<method>. Its
row holds the final eval top-1, the minutes the study spent running it
(<workdir>/wall_clock.json, summed over resumed invocations) and IEG's
re-labeling diagnostics averaged over the last DIAGNOSTIC_WINDOW of the
budget, read from the run's metrics.jsonl training lines (each one the mean
over a chunk of steps). Those rows are the study's results file
(<out>/cells.csv): append-only in effect, since a finished cell is skipped
when the study runs again.
"""

import csv
import json
import os

# The share of the budget, at its end, that the diagnostics average over.
DIAGNOSTIC_WINDOW = 0.2
# (column, metric, metric it is weighted by or None). The two accuracies are
# ratios over each log line's replaced examples (pooled over the line's
# steps, `summaries.pooled_ratios`); weighted by the replaced fraction, their
# mean over the lines is the ratio over every replaced example of the window.
DIAGNOSTICS = (
  ('replaced', 'relabel/replaced_fraction', None),
  ('replacement_acc', 'relabel/replacement_accuracy', 'replaced'),
  ('replaced_label_acc', 'relabel/replaced_label_accuracy', 'replaced'),
  ('est_noise', 'evidence/noise_rate', None),
  ('true_noise', 'evidence/true_noise_rate', None),
  ('gate_open', 'evidence/gate_open', None),
)
COLUMNS = ('setting', 'method', 'seed', 'step', 'top1', 'minutes') + tuple(
  c for c, _, _ in DIAGNOSTICS
)
_WALL_CLOCK = 'wall_clock.json'


def add_wall_clock(workdir: str, seconds: float):
  """Adds one invocation's seconds to the cell's wall-clock record."""
  total = wall_clock_seconds(workdir) + seconds
  with open(os.path.join(workdir, _WALL_CLOCK), 'w') as f:
    json.dump({'seconds': total}, f)


def wall_clock_seconds(workdir: str) -> float:
  path = os.path.join(workdir, _WALL_CLOCK)
  if not os.path.exists(path):
    return 0.0
  with open(path) as f:
    return float(json.load(f)['seconds'])


def metric_lines(workdir: str) -> list[dict]:
  """Every line of the run's metrics.jsonl, parsed; [] before the first."""
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f]


def train_rows(workdir: str) -> list[dict]:
  """The training lines of metrics.jsonl (those with a 'loss/' key)."""
  return [
    row
    for row in metric_lines(workdir)
    if any(k.startswith('loss/') for k in row)
  ]


def eval_rows(workdir: str) -> list[dict]:
  """The training-time eval lines of metrics.jsonl (step, top-1).

  A standalone `--mode=eval` line is not part of the run's curve.
  """
  return [
    row
    for row in metric_lines(workdir)
    if 'eval/top1' in row and row.get('mode') != 'eval'
  ]


def diagnostics(rows: list[dict], train_steps: int) -> dict:
  """The DIAGNOSTICS columns over the rows of the budget's last window.

  Args:
    rows: training lines, each with 'step' and some metrics.
    train_steps: the cell's budget.

  Returns:
    {column: float} for every column whose metric the window's rows carry
    (none for a method without re-labeling); a weighted column is left out
    when its weight sums to 0 (nothing replaced).
  """
  start = train_steps * (1.0 - DIAGNOSTIC_WINDOW)
  window = [r for r in rows if r['step'] > start]
  out = {}
  for column, metric, weight_column in DIAGNOSTICS:
    have = [r for r in window if metric in r]
    if not have:
      continue
    if weight_column is None:
      out[column] = sum(r[metric] for r in have) / len(have)
      continue
    weight_metric = dict((c, m) for c, m, _ in DIAGNOSTICS)[weight_column]
    weights = [r.get(weight_metric, 0.0) for r in have]
    if sum(weights) > 0:
      out[column] = sum(w * r[metric] for w, r in zip(weights, have)) / sum(
        weights
      )
  return out


def cell_row(
  workdir: str,
  setting: str,
  method: str,
  seed: int,
  train_steps: int,
  evals: list[dict],
):
  """The cell's row, or None while it has no eval line.

  Args:
    workdir: the cell's run directory.
    setting, method, seed: the cell's name.
    train_steps: the cell's budget.
    evals: its eval lines (dicts with 'step', 'eval/top1'), in order.
  """
  if not evals:
    return None
  row = {
    'setting': setting,
    'method': method,
    'seed': seed,
    'step': evals[-1]['step'],
    'top1': evals[-1]['eval/top1'],
    'minutes': wall_clock_seconds(workdir) / 60.0,
  }
  row.update(diagnostics(train_rows(workdir), train_steps))
  return row


def write_cells(path: str, rows: list[dict]):
  """Writes the rows to a CSV with COLUMNS; missing values stay empty."""
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=COLUMNS, restval='')
    writer.writeheader()
    for row in rows:
      writer.writerow(row)


def cells_markdown(rows: list[dict]) -> str:
  """A Markdown table of the rows, numbers to 4 (minutes to 1) decimals."""
  lines = [
    '| ' + ' | '.join(COLUMNS) + ' |',
    '|' + '---|' * len(COLUMNS),
  ]
  for row in rows:
    cells = []
    for column in COLUMNS:
      value = row.get(column, '')
      if column == 'minutes':
        value = f'{value:.1f}'
      elif isinstance(value, float):
        value = f'{value:.4f}'
      cells.append(str(value) if value != '' else '-')
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)
