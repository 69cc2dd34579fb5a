"""Accuracy study on real images: every method under the same CPU budget.

On the CIFAR-10 JPEG image folder (../shared/data/cifar10_jpg.tar, never
committed; pass its path or an extracted folder with --data), or on
scikit-learn's bundled digits with --data=digits, for each noise
setting (default: uniform 80% and asymmetric 40%) trains

  clean        supervised on the clean labels (the ceiling)
  supervised   supervised on the noisy labels
  probe_only   supervised on the clean probe alone (what the noisy data adds)
  gce          generalized cross-entropy (Ghosh & Lan's robust loss)
  l2r          learning to re-weight (Ren et al.)
  l2r_confidence  L2R's loss with --weight_source=network: weights from the
               network's p(given label) instead of the meta-gradient
  ieg          IEG re-weighting + re-labeling + consistency (defaults)
  ieg_confidence  IEG with --weight_source=network (docs/accuracy_study.md)
  supervised_c2d  noisy supervised from the contrastive encoder (what the
               pre-training alone gives)
  ieg_c2d      IEG from the contrastive encoder (the system's recipe)
  ieg_c2d_vote ieg_c2d plus --label_vote_neighbors=500: the labels of each
               image's encoder neighbors vote in its pseudo-label, and that
               vote's p(given label) is its weight (docs/contrastive.md)

each as `python -m ieg_tf.main --recipe=...` (the cell's recipe from
ieg_tf/recipes.py plus the flags in CELLS) with the same network, batch and
steps.
Without --methods it runs DEFAULT_METHODS (measured: 65 minutes on 2 idle
cores at the default 1,500 steps, plus 13 for the contrastive stage; docs/accuracy_study.md); `clean` and `probe_only` use no noisy
label, so they run once, in the first setting. The
`_c2d` cells start from ONE contrastive stage (`--mode=pretrain`, SimCLR on
the train images, labels unused, --pretrain_steps at --pretrain_batch_size)
in <out>/pretrain, shared by every setting: the noise settings change labels,
not images.

The study then writes <out>/study.csv (setting, method, step, eval/top1,
eval/top1_raw), <out>/study.png (eval top-1 against steps, one panel per
setting), <out>/cells.csv (one row per cell: final top-1, wall-clock
minutes, IEG's re-labeling diagnostics over the last fifth of the budget;
scripts/study_cells.py) and prints both tables, for the cells run now and
every cell an earlier invocation finished in <out>. Runs resume:
re-running the command skips finished runs and continues interrupted ones
from their checkpoints.

Usage:
  python scripts/accuracy_study.py --data=../shared/data/cifar10_jpg.tar \
      --out=/tmp/study
  # docs/pipeline.md: the digits demo's data, long enough to fit the labels.
  python scripts/accuracy_study.py --data=digits --out=/tmp/digits_study \
      --settings=uniform_0.8 --methods=supervised,l2r,ieg,supervised_c2d,ieg_c2d \
      --network_name=tiny --batch_size=100 --learning_rate=0.1 \
      --probe_per_class=5 --train_steps=6000 --eval_every_steps=250 \
      --pretrain_steps=1350 --pretrain_batch_size=100 --linear_probe_examples=0
  # docs/evidence_study.md: clean and asymmetric labels, one seed per run.
  python scripts/accuracy_study.py --seed=0 --out=/tmp/evidence_s0 \
      --settings=none_0,asymmetric_0.2,asymmetric_0.4 --methods=supervised,ieg
"""

import argparse
import dataclasses
import os
import subprocess
import sys
import time

# scripts/ is not a package: find the sibling module when run from anywhere.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cifar_folder  # noqa: E402
import study_cells  # noqa: E402
from study_tables import markdown, write_csv, write_plot  # noqa: E402

SETTINGS = ('uniform_0.8', 'asymmetric_0.4')
# What runs without --methods: the main cells (clean ceiling, noisy
# supervised, GCE, L2R, IEG, IEG after contrastive pre-training) plus
# supervised_c2d, which separates the encoder's gain from IEG's. The other
# cells are ablations (docs/accuracy_study.md); together they take several hours.
DEFAULT_METHODS = (
  'clean',
  'supervised',
  'gce',
  'l2r',
  'ieg',
  'supervised_c2d',
  'ieg_c2d_vote',
)
# Cells that use no noisy label: run in the first setting only and shown for
# every setting (the same run).
NOISE_FREE = ('clean', 'probe_only')
# --data value for scikit-learn's bundled digits instead of the folder.
DIGITS = 'digits'
# Neighbors per image of the ieg_c2d_vote cell (docs/contrastive.md).
VOTE_NEIGHBORS = 500


@dataclasses.dataclass(frozen=True)
class Cell:
  """One study cell: a recipe (ieg_tf/recipes.py) plus the flags it adds.

  Attributes:
    recipe: the `--recipe` the cell runs.
    flags: flags on top of the recipe (they win over it).
    encoder: start from the study's shared contrastive stage (`_c2d`).
  """

  recipe: str
  flags: tuple[str, ...] = ()
  encoder: bool = False


_VOTES = (
  f'--label_vote_neighbors={VOTE_NEIGHBORS}',
  '--weight_source=vote',
)
CELLS = {
  'clean': Cell('supervised', ('--noise_type=none',)),
  'supervised': Cell('supervised'),
  'probe_only': Cell('probe_only'),
  'gce': Cell('gce'),
  'l2r': Cell('l2r'),
  'l2r_confidence': Cell('l2r', ('--weight_source=network',)),
  'ieg': Cell('ieg'),
  'ieg_confidence': Cell('ieg', ('--weight_source=network',)),
  'supervised_c2d': Cell('supervised_c2d', encoder=True),
  'ieg_c2d': Cell('ieg', encoder=True),
  'ieg_c2d_vote': Cell('ieg', _VOTES, encoder=True),
}
METHODS = tuple(CELLS)


def method_flags(method: str, setting: str, args) -> list[str]:
  """The main job's flags for one (method, setting) cell."""
  noise, ratio = setting.rsplit('_', 1)
  cell = CELLS[method]
  flags = [
    f'--recipe={cell.recipe}',
    f'--noise_type={noise}',
    f'--noise_ratio={ratio}',
    # Random init unless the cell starts from the study's encoder.
    '--pretrain_epochs=0',
    f'--network_name={args.network_name}',
    f'--batch_size={args.batch_size}',
    f'--train_steps={args.train_steps}',
    f'--eval_every_steps={args.eval_every_steps}',
    f'--steps_per_loop={min(50, args.eval_every_steps)}',
    # Every chunk logged: the diagnostics columns average the chunks of the
    # budget's last fifth (scripts/study_cells.py).
    f'--log_every_steps={min(50, args.eval_every_steps)}',
    f'--probe_per_class={args.probe_per_class}',
    f'--learning_rate={args.learning_rate}',
    f'--seed={args.seed}',
    f'--precise_bn_batches={args.precise_bn_batches}',
    # IEG's MixUp / consistency ramp over the first half of the budget, the
    # ratio of the default (500 of the demo's 1000 steps). With a quarter
    # (150 of 600) IEG collapsed to chance on CIFAR-10 80% (docs/accuracy_study.md). No
    # effect on the other methods.
    f'--unsup_rampup_steps={args.train_steps // 2}',
  ]
  flags += list(cell.flags)  # after the base flags: the last value wins
  if cell.encoder:
    flags.append(f'--init_checkpoint={pretrain_dir(args)}')
  return flags


def pretrain_dir(args) -> str:
  return os.path.join(args.out, 'pretrain')


def pretrain_flags(setting: str, args) -> list[str]:
  """The contrastive stage's flags; `setting` only feeds its GMM diagnostic."""
  noise, ratio = setting.rsplit('_', 1)
  return [
    '--mode=pretrain',
    f'--noise_type={noise}',
    f'--noise_ratio={ratio}',
    f'--network_name={args.network_name}',
    f'--batch_size={args.batch_size}',
    f'--probe_per_class={args.probe_per_class}',
    f'--seed={args.seed}',
    f'--pretrain_steps={args.pretrain_steps}',
    f'--pretrain_batch_size={args.pretrain_batch_size}',
    f'--pretrain_learning_rate={args.pretrain_learning_rate}',
    f'--pretrain_warmup_steps={args.pretrain_steps // 10}',
    f'--linear_probe_examples={args.linear_probe_examples}',
    '--steps_per_loop=50',
    f'--log_every_steps={max(50, args.pretrain_steps // 10)}',
    f'--eval_every_steps={args.pretrain_steps}',
  ]


def pretrain_summary(workdir: str) -> dict:
  """The stage's last `pretrain/` metrics merged (step = its last step)."""
  summary = {}
  for row in study_cells.metric_lines(workdir):
    if any(k.startswith('pretrain/') for k in row):
      summary.update(row)
  return summary


def run_pretrain(setting: str, dataset: list[str], args) -> dict:
  """Runs (or resumes, or skips) the shared contrastive stage."""
  workdir = pretrain_dir(args)
  summary = pretrain_summary(workdir)
  diagnosed = 'pretrain/linear_probe_top1' in summary or not (
    args.linear_probe_examples
  )
  if summary.get('step', 0) >= args.pretrain_steps and diagnosed:
    print('pretrain: done already', flush=True)
    return summary
  start = time.time()
  run_main(
    dataset, workdir, pretrain_flags(setting, args), args.out, 'pretrain'
  )
  summary = pretrain_summary(workdir)
  print(
    'pretrain: linear probe top1 '
    f'{summary.get("pretrain/linear_probe_top1", float("nan")):.4f}, GMM '
    f'AUC {summary.get("pretrain/gmm_auc", float("nan")):.4f} in '
    f'{time.time() - start:.0f}s',
    flush=True,
  )
  return summary


def data_flags(data: str, out: str) -> list[str]:
  """The dataset flags of every run: the bundled digits, or the folder.

  Args:
    data: `digits`, or the CIFAR-10 JPEG tar / extracted folder.
    out: the study's output dir (where a tar is extracted once).
  """
  if data == DIGITS:
    return ['--dataset=digits']
  folder = cifar_folder.extracted_folder(data, out, 'accuracy_study')
  return ['--dataset=folder', f'--data_dir={folder}']


def run_main(dataset: list[str], workdir: str, flags, out: str, name: str):
  """Runs `python -m ieg_tf.main`; its log is <out>/<name>.log.

  Args:
    dataset: the dataset flags (`data_flags`).
    workdir: the run's --workdir.
    flags: the cell's other flags.
    out: the study's output dir.
    name: the log's name.
  """
  command = [
    sys.executable,
    '-m',
    'ieg_tf.main',
    *dataset,
    f'--workdir={workdir}',
  ] + list(flags)
  print(' '.join(command), flush=True)
  log_path = os.path.join(out, f'{name}.log')
  os.makedirs(out, exist_ok=True)
  with open(log_path, 'w') as log:
    proc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
  if proc.returncode:
    raise SystemExit(f'{name} failed; see {log_path}')


eval_rows = study_cells.eval_rows


def run_cell(method: str, setting: str, dataset: list[str], args) -> list[dict]:
  workdir = os.path.join(args.out, setting, method)
  rows = eval_rows(workdir)
  if rows and rows[-1]['step'] >= args.train_steps:
    print(f'{setting}/{method}: done already', flush=True)
    return rows
  start = time.time()
  flags = method_flags(method, setting, args)
  try:
    run_main(dataset, workdir, flags, args.out, f'{setting}_{method}')
  finally:
    # An interrupted invocation's time counts too: it resumes from there.
    study_cells.add_wall_clock(workdir, time.time() - start)
  rows = eval_rows(workdir)
  print(
    f'{setting}/{method}: top1 {rows[-1]["eval/top1"]:.4f} in '
    f'{time.time() - start:.0f}s',
    flush=True,
  )
  return rows


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--data', default='../shared/data/cifar10_jpg.tar')
  parser.add_argument('--out', default='/tmp/ieg_tf_study')
  parser.add_argument('--settings', default=','.join(SETTINGS))
  parser.add_argument('--methods', default=','.join(DEFAULT_METHODS))
  parser.add_argument('--network_name', default='tiny')
  parser.add_argument('--batch_size', type=int, default=64)
  parser.add_argument('--train_steps', type=int, default=1500)
  parser.add_argument('--eval_every_steps', type=int, default=250)
  parser.add_argument('--probe_per_class', type=int, default=10)
  parser.add_argument('--learning_rate', type=float, default=0.05)
  # BN statistics re-estimated for the evaluated weights (docs/methods.md "Precise
  # BatchNorm statistics"); 0 = the stored moving averages.
  parser.add_argument('--precise_bn_batches', type=int, default=50)
  # 2,000 steps of 256 ≈ 10 epochs: linear probe 0.51 on the clean labels
  # for `tiny` (random init ≈ 0.37; docs/accuracy_study.md).
  parser.add_argument('--pretrain_steps', type=int, default=2000)
  parser.add_argument('--pretrain_batch_size', type=int, default=256)
  parser.add_argument('--pretrain_learning_rate', type=float, default=1.0)
  parser.add_argument('--linear_probe_examples', type=int, default=5000)
  parser.add_argument('--seed', type=int, default=1)
  parser.add_argument('--dry_run', action='store_true')
  args = parser.parse_args(argv)
  settings = [s for s in args.settings.split(',') if s]
  methods = [m for m in args.methods.split(',') if m]
  for m in methods:
    if m not in METHODS:
      raise SystemExit(f'accuracy_study: unknown method {m}; use {METHODS}')
  needs_pretrain = any(CELLS[m].encoder for m in methods)
  if args.dry_run:
    if needs_pretrain:
      print(' '.join(pretrain_flags(settings[0], args)))
    for s in settings:
      for m in methods:
        print(' '.join(method_flags(m, s, args)))
    return
  dataset = data_flags(args.data, args.out)
  if needs_pretrain:
    run_pretrain(settings[0], dataset, args)
  start = time.time()
  table = {}
  for setting in settings:
    for method in methods:
      if method in NOISE_FREE and setting != settings[0]:
        table[(setting, method)] = table[(settings[0], method)]
        continue
      table[(setting, method)] = run_cell(method, setting, dataset, args)
  # Cells finished by earlier invocations (other --methods or --settings)
  # stay in the outputs, so running the study cell by cell still gives the
  # whole table.
  earlier = earlier_settings(settings, args)
  shown = [
    m
    for m in METHODS
    if m in methods or earlier_cell(m, settings + earlier, args)
  ]
  asked, settings = settings, settings + earlier

  def source(setting, method):
    """The setting dir a cell's run lives in (noise-free cells: the first)."""
    return asked[0] if method in NOISE_FREE and setting in asked else setting

  for setting in settings:
    for method in shown:
      if (setting, method) not in table:
        table[(setting, method)] = eval_rows(
          os.path.join(args.out, source(setting, method), method)
        )
  write_csv(os.path.join(args.out, 'study.csv'), table)
  write_plot(os.path.join(args.out, 'study.png'), table, settings)
  print(markdown(table, settings, shown, args.train_steps))
  cells = []
  for (setting, method), rows in table.items():
    row = study_cells.cell_row(
      os.path.join(args.out, source(setting, method), method),
      setting,
      method,
      args.seed,
      args.train_steps,
      rows,
    )
    if row:
      cells.append(row)
  study_cells.write_cells(os.path.join(args.out, 'cells.csv'), cells)
  print(study_cells.cells_markdown(cells))
  print(f'study: {(time.time() - start) / 60:.1f} min in this invocation')


def earlier_settings(settings, args) -> list[str]:
  """Settings of <out> not in `settings` that hold a finished cell, sorted."""
  if not os.path.isdir(args.out):
    return []
  return sorted(
    name
    for name in os.listdir(args.out)
    if name not in settings
    and any(eval_rows(os.path.join(args.out, name, m)) for m in METHODS)
  )


def earlier_cell(method: str, settings, args) -> bool:
  return any(
    eval_rows(os.path.join(args.out, setting, method)) for setting in settings
  )


if __name__ == '__main__':
  main()
