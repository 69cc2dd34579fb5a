"""The accuracy study's outputs: CSV, PNG plot and Markdown table.

`table` maps (setting, method) to that cell's eval rows (dicts with 'step',
'eval/top1' and maybe 'eval/top1_raw'), in the order they should appear.
"""

import csv


def write_csv(path: str, table: dict):
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['setting', 'method', 'step', 'eval/top1', 'eval/top1_raw'])
    for (setting, method), rows in table.items():
      for row in rows:
        writer.writerow(
          [
            setting,
            method,
            row['step'],
            row['eval/top1'],
            row.get('eval/top1_raw', ''),
          ]
        )


def write_plot(path: str, table: dict, settings) -> bool:
  try:
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
  except ImportError:
    print('matplotlib missing: no plot (pip install matplotlib)')
    return False
  fig, axes = plt.subplots(1, len(settings), figsize=(6 * len(settings), 4))
  axes = [axes] if len(settings) == 1 else list(axes)
  for ax, setting in zip(axes, settings):
    for (s, method), rows in table.items():
      if s == setting and rows:
        ax.plot(
          [r['step'] for r in rows],
          [r['eval/top1'] for r in rows],
          marker='o',
          label=method,
        )
    ax.set_title(f'CIFAR-10 JPEG, {setting.replace("_", " ")} noise')
    ax.set_xlabel('step')
    ax.set_ylabel('eval top-1')
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  return True


def markdown(table: dict, settings, methods, train_steps: int = 0) -> str:
  """The final top-1 per cell; '(step N)' marks a cell short of train_steps."""
  lines = [
    '| method | ' + ' | '.join(settings) + ' |',
    '|---|' + '---|' * len(settings),
  ]
  for method in methods:
    cells = []
    for setting in settings:
      rows = table.get((setting, method)) or []
      if not rows:
        cells.append('-')
        continue
      cell = f'{rows[-1]["eval/top1"]:.4f}'
      if rows[-1]['step'] < train_steps:
        cell += f' (step {rows[-1]["step"]})'
      cells.append(cell)
    lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)
