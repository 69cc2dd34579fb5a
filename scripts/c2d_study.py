"""C2D study: supervised and IEG, each with and without contrastive pre-training.

On the CIFAR-10 JPEG folder (../shared/data/cifar10_jpg.tar, never committed)
with uniform label noise (default 80%: a label is redrawn from ALL classes
with probability 0.8, so ~72% of labels are wrong), under a short CPU budget:

1. a class-balanced subset of the folder is linked into <scratch> (symlinks;
   --train_per_class / --test_per_class images per class);
2. ONE contrastive stage, `python -m ieg_tf.main --mode=pretrain`, in
   <out>/pretrain (SimCLR on the train images, labels unused);
3. for each method: a run from the random init and a run with
   `--init_checkpoint=<out>/pretrain` (the same encoder for every method;
   `--pretrain_steps` in --mode=train would do the same within one run);
4. C2D's warm-up diagnostics (linear probe on clean labels, GMM ROC-AUC of
   the clean/noisy split) of the random encoder, the pre-trained encoder and
   the encoder at the end of every run;

then prints a Markdown table and writes <out>/c2d_study.json. Every run has
the same network, batch, steps, seed and noise. Re-running the command skips
finished runs.

Usage:
  python scripts/c2d_study.py --data=../shared/data/cifar10_jpg.tar \
      --out=/tmp/c2d_study --pretrain_steps=300 --train_steps=300
"""

import argparse
import json
import os
import subprocess
import sys
import time

# scripts/ is not a package: find the sibling module when run from anywhere.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cifar_folder  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def common_flags(args, data_dir: str) -> list[str]:
  return [
    '--dataset=folder',
    f'--data_dir={data_dir}',
    '--noise_type=uniform',
    f'--noise_ratio={args.noise_ratio}',
    # The random-init cells stay random; the stage runs as --mode=pretrain
    # with exact --pretrain_steps, and the C2D cells load it.
    '--pretrain_epochs=0',
    f'--network_name={args.network_name}',
    f'--batch_size={args.batch_size}',
    f'--probe_per_class={args.probe_per_class}',
    f'--seed={args.seed}',
    '--steps_per_loop=50',
    '--log_every_steps=50',
  ]


def read_rows(workdir: str) -> list[dict]:
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def run_main(workdir: str, flags: list[str]) -> float:
  """Runs the main job; returns its wall time (s)."""
  cmd = [sys.executable, '-m', 'ieg_tf.main', f'--workdir={workdir}', *flags]
  print('$', ' '.join(cmd[1:]), flush=True)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  t0 = time.time()
  proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
  if proc.returncode:
    sys.stderr.write(proc.stderr[-3000:])
    raise SystemExit(f'c2d_study: run in {workdir} failed')
  return time.time() - t0


def pretrain(args, data_dir: str) -> dict:
  workdir = os.path.join(args.out, 'pretrain')
  done = [r for r in read_rows(workdir) if 'pretrain/linear_probe_top1' in r]
  wall = 0.0
  if not done or done[-1]['step'] < args.pretrain_steps:
    wall = run_main(
      workdir,
      common_flags(args, data_dir)
      + [
        '--mode=pretrain',
        f'--pretrain_steps={args.pretrain_steps}',
        f'--pretrain_batch_size={args.pretrain_batch_size}',
        f'--pretrain_learning_rate={args.pretrain_learning_rate}',
        f'--pretrain_temperature={args.pretrain_temperature}',
        f'--pretrain_warmup_steps={args.pretrain_steps // 10}',
        f'--eval_every_steps={args.pretrain_steps}',
        f'--linear_probe_examples={args.linear_probe_examples}',
      ],
    )
  rows = read_rows(workdir)
  out = {k: v for r in rows for k, v in r.items() if k.startswith('pretrain/')}
  out['wall_s'] = wall
  return out


def train(args, data_dir: str, method: str, init: str) -> dict:
  workdir = os.path.join(args.out, f'{method}_{init}')
  finals = [
    r
    for r in read_rows(workdir)
    if 'eval/top1' in r and r['step'] == args.train_steps
  ]
  wall = 0.0
  if not finals:
    flags = common_flags(args, data_dir) + [
      '--mode=train',
      f'--method={method}',
      f'--train_steps={args.train_steps}',
      f'--eval_every_steps={args.train_steps}',
    ]
    if init == 'c2d':
      flags.append(f'--init_checkpoint={os.path.join(args.out, "pretrain")}')
    wall = run_main(workdir, flags)
    finals = [r for r in read_rows(workdir) if 'eval/top1' in r]
  final = finals[-1]
  return {
    'eval/top1': final['eval/top1'],
    'eval/top1_raw': final['eval/top1_raw'],
    'wall_s': wall,
    'workdir': workdir,
  }


def encoder_diagnostics(args, data_dir: str, checkpoints: dict) -> dict:
  """Linear probe + GMM AUC of the random and of each saved encoder."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import dataclasses

  import keras
  import tensorflow as tf

  from ieg_tf import config
  from ieg_tf.data.prepare import prepare_data
  from ieg_tf.models.registry import build_network
  from ieg_tf.pretrain import diagnostics, encoder_init

  cfg = dataclasses.replace(
    config.DataConfig(),
    dataset='folder',
    data_dir=data_dir,
    noise_type=config.NoiseType.UNIFORM,
    noise_ratio=args.noise_ratio,
    probe_per_class=args.probe_per_class,
    seed=args.seed,
  )
  data = prepare_data(cfg)
  strategy = tf.distribute.get_strategy()
  out = {}
  for name, path in [('random init', None)] + list(checkpoints.items()):
    keras.utils.set_random_seed(args.seed)
    network = build_network(
      args.network_name, data.num_classes, data.image_shape
    )
    if path is not None:
      encoder_init.load_encoder(path, network)
    out[name] = diagnostics.encoder_diagnostics(
      strategy,
      network.encoder,
      data,
      max_examples=args.linear_probe_examples,
      global_batch=200,
      seed=args.seed,
    )
    print(f'diagnostics {name}: {out[name]}', flush=True)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    '--data',
    default=os.path.join(REPO, '..', 'shared', 'data', 'cifar10_jpg.tar'),
  )
  parser.add_argument('--scratch', default='/tmp')
  parser.add_argument('--out', default='/tmp/c2d_study')
  parser.add_argument('--train_per_class', type=int, default=1000)
  parser.add_argument('--test_per_class', type=int, default=200)
  parser.add_argument('--noise_ratio', type=float, default=0.8)
  parser.add_argument('--network_name', default='tiny')
  parser.add_argument('--batch_size', type=int, default=64)
  parser.add_argument('--probe_per_class', type=int, default=10)
  parser.add_argument('--train_steps', type=int, default=300)
  parser.add_argument('--pretrain_steps', type=int, default=300)
  parser.add_argument('--pretrain_batch_size', type=int, default=128)
  parser.add_argument('--pretrain_learning_rate', type=float, default=1.0)
  parser.add_argument('--pretrain_temperature', type=float, default=0.5)
  parser.add_argument('--linear_probe_examples', type=int, default=2000)
  parser.add_argument('--methods', default='supervised,ieg')
  parser.add_argument('--seed', type=int, default=12345)
  parser.add_argument('--no_diagnostics', action='store_true')
  args = parser.parse_args()

  t0 = time.time()
  folder = cifar_folder.extracted_folder(args.data, args.scratch, 'c2d_study')
  data_dir = cifar_folder.subset_folder(
    folder,
    args.scratch,
    {'train': args.train_per_class, 'test': args.test_per_class},
  )
  pre = pretrain(args, data_dir)
  results = {}
  for method in args.methods.split(','):
    for init in ('random', 'c2d'):
      results[f'{method}_{init}'] = train(args, data_dir, method, init)
      r = results[f'{method}_{init}']
      print(f'{method} {init}: top1 {r["eval/top1"]:.4f}', flush=True)
  diag = {}
  if not args.no_diagnostics:
    ckpts = {'pre-trained (C2D)': os.path.join(args.out, 'pretrain')}
    for key, r in results.items():
      ckpts[f'after {key}'] = r['workdir']
    diag = encoder_diagnostics(args, data_dir, ckpts)
  total = time.time() - t0

  print()
  print(
    f'CIFAR-10 folder subset ({args.train_per_class}/class train, '
    f'{args.test_per_class}/class test), uniform noise '
    f'{args.noise_ratio:g}, {args.network_name}, batch {args.batch_size}, '
    f'{args.train_steps} train steps; pre-training {args.pretrain_steps} '
    f'steps at batch {args.pretrain_batch_size}.'
  )
  print()
  print('| method | init | eval top-1 (EMA) | eval top-1 (raw) | run wall s |')
  print('|---|---|---|---|---|')
  for key, r in results.items():
    method, init = key.rsplit('_', 1)
    print(
      f'| {method} | {"C2D" if init == "c2d" else "random"} | '
      f'{r["eval/top1"]:.4f} | {r["eval/top1_raw"]:.4f} | '
      f'{r["wall_s"]:.0f} |'
    )
  if diag:
    print()
    print(
      '| encoder | linear probe top-1 (clean labels) | GMM clean/noisy AUC |'
    )
    print('|---|---|---|')
    for name, d in diag.items():
      print(
        f'| {name} | {d.get("pretrain/linear_probe_top1", float("nan")):.4f} '
        f'| {d.get("pretrain/gmm_auc", float("nan")):.4f} |'
      )
  print()
  print(
    f'pre-training: final NT-Xent {pre.get("pretrain/loss", float("nan")):.4f}, '
    f'contrast acc {pre.get("pretrain/contrast_acc", float("nan")):.4f}, '
    f'wall {pre["wall_s"]:.0f} s; total wall {total:.0f} s'
  )
  with open(os.path.join(args.out, 'c2d_study.json'), 'w') as f:
    json.dump(
      {
        'args': vars(args),
        'pretrain': pre,
        'runs': results,
        'diagnostics': diag,
        'total_wall_s': total,
      },
      f,
      indent=2,
      sort_keys=True,
    )


if __name__ == '__main__':
  main()
