r"""Merges accuracy-study outputs of several seeds into one results set.

`scripts/accuracy_study.py` runs one seed per invocation into its own --out
(<out>/cells.csv, <out>/<setting>/<method>/metrics.jsonl). This reads any
number of such outputs and writes, next to --prefix:

  <prefix>_cells.csv    every cell's row (scripts/study_cells.py COLUMNS),
                        one per (setting, method, seed)
  <prefix>_curves.csv   setting, method, seed, step, top1: each cell's eval
                        curve
  <prefix>_curves.png   the mean over the seeds of each curve (when
                        matplotlib is installed)

and prints two Markdown tables: the final top-1 per seed with the minutes a
cell took and the seed mean, and the seed-mean curve. A cell present in two
outputs with the same seed is an error (one line, exit 2): which run counts
would otherwise be silent.

  python scripts/merge_study_seeds.py --prefix=docs/results/cifar_pipeline \
      /tmp/n_s0 /tmp/n_s1
"""

import argparse
import csv
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import study_cells  # noqa: E402
import study_tables  # noqa: E402


class MergeError(Exception):
  """Inputs that cannot be merged; the message is the user's one line."""


def read_cells(out: str) -> list[dict]:
  """The rows of <out>/cells.csv, numbers parsed; empty strings dropped."""
  path = os.path.join(out, 'cells.csv')
  if not os.path.exists(path):
    raise MergeError(f'{path} is missing: not an accuracy-study output')
  rows = []
  with open(path, newline='') as f:
    for raw in csv.DictReader(f):
      row = {}
      for key, value in raw.items():
        if value == '':
          continue
        if key in ('setting', 'method'):
          row[key] = value
        elif key in ('seed', 'step'):
          row[key] = int(value)
        else:
          row[key] = float(value)
      rows.append(row)
  return rows


def read_curve(out: str, setting: str, method: str) -> list[tuple[int, float]]:
  """(step, eval top-1) of a cell's training-time evals, in step order."""
  rows = study_cells.eval_rows(os.path.join(out, setting, method))
  return sorted((int(r['step']), float(r['eval/top1'])) for r in rows)


def merge(outs: list[str]):
  """(cells, curves) over the outputs, in the order first seen.

  Returns:
    cells: list of cell rows; curves: {(setting, method, seed): points}.

  Raises:
    MergeError: a missing cells.csv, or one cell in two outputs.
  """
  cells, curves, where = [], {}, {}
  for out in outs:
    for row in read_cells(out):
      key = (row['setting'], row['method'], row['seed'])
      if key in where:
        raise MergeError(
          f'{"/".join(map(str, key))} is in both {where[key]} and {out}'
        )
      where[key] = out
      cells.append(row)
      curves[key] = read_curve(out, row['setting'], row['method'])
  return cells, curves


def mean_curves(curves: dict) -> dict:
  """{(setting, method): [(step, mean top-1, seeds)]} at the shared steps.

  Only steps every seed of the cell has are averaged, so a seed short of
  the budget never mixes into a longer seed's mean.
  """
  grouped = {}
  for (setting, method, _), points in curves.items():
    grouped.setdefault((setting, method), []).append(dict(points))
  out = {}
  for key, seeds in grouped.items():
    steps = sorted(set.intersection(*(set(s) for s in seeds)))
    out[key] = [
      (step, statistics.fmean(s[step] for s in seeds), len(seeds))
      for step in steps
    ]
  return out


def write_outputs(prefix: str, cells: list[dict], curves: dict):
  study_cells.write_cells(prefix + '_cells.csv', cells)
  with open(prefix + '_curves.csv', 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['setting', 'method', 'seed', 'step', 'top1'])
    for (setting, method, seed), points in curves.items():
      for step, top1 in points:
        writer.writerow([setting, method, seed, step, top1])
  write_plot(prefix + '_curves.png', mean_curves(curves))


def write_plot(path: str, means: dict) -> bool:
  """The seed-mean curves, one panel per setting (`study_tables.write_plot`)."""
  table = {
    (setting, f'{method} ({points[0][2]} seeds)'): [
      {'step': step, 'eval/top1': top1} for step, top1, _ in points
    ]
    for (setting, method), points in means.items()
    if points
  }
  settings = list(dict.fromkeys(s for s, _ in table))
  return study_tables.write_plot(path, table, settings)


def final_table(cells: list[dict]) -> str:
  """| setting | method | top-1 per seed (minutes) | mean |."""
  grouped = {}
  for row in cells:
    grouped.setdefault((row['setting'], row['method']), []).append(row)
  lines = [
    '| labels | method | top-1, seed by seed | minutes | mean |',
    '|---|---|---|---|---|',
  ]
  for (setting, method), rows in grouped.items():
    rows = sorted(rows, key=lambda r: r['seed'])
    tops = ' / '.join(f'{r["top1"]:.4f}' for r in rows)
    minutes = ' / '.join(f'{r["minutes"]:.1f}' for r in rows)
    mean = statistics.fmean(r['top1'] for r in rows)
    lines.append(f'| {setting} | {method} | {tops} | {minutes} | {mean:.4f} |')
  return '\n'.join(lines)


def curve_table(means: dict) -> str:
  """| setting | method | mean top-1 at every step any cell has |."""
  if not means:
    return ''
  steps = sorted({p[0] for points in means.values() for p in points})
  lines = [
    '| labels | method | ' + ' | '.join(f'{s:,}' for s in steps) + ' |',
    '|---|---|' + '---|' * len(steps),
  ]
  for (setting, method), points in means.items():
    by_step = {p[0]: p[1] for p in points}
    values = [f'{by_step[s]:.4f}' if s in by_step else '-' for s in steps]
    lines.append(f'| {setting} | {method} | ' + ' | '.join(values) + ' |')
  return '\n'.join(lines)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    '--prefix', required=True, help='output path prefix, e.g. docs/results/x'
  )
  parser.add_argument('outs', nargs='+', help='accuracy-study --out dirs')
  args = parser.parse_args(argv)
  try:
    cells, curves = merge(args.outs)
  except MergeError as e:
    print(f'merge_study_seeds: {e}', file=sys.stderr)
    return 2
  parent = os.path.dirname(args.prefix)
  if parent:
    os.makedirs(parent, exist_ok=True)
  write_outputs(args.prefix, cells, curves)
  print(final_table(cells))
  print()
  print(curve_table(mean_curves(curves)))
  return 0


if __name__ == '__main__':
  sys.exit(main())
