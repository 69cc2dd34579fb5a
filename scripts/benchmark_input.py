"""Images/second of the augmentation input pipelines on this machine.

Runs each pipeline the way training feeds it: `tf.data` with an AUTOTUNE
parallel map (one stateless seed per element), batch 128, prefetch. Times
several passes after a warm-up and reports the median, as a table and as one
JSON line per row.

Pipelines:
  weak            weak_view + to_float (the probe / supervised input).
  strong_randaug  train_views(aug_type='randaug'): weak + strong views.
  strong_autoaug  train_views(aug_type='autoaug'): weak + strong views.
  simclr          simclr_views: two contrastive views (blur auto: on at 224).

The `train_step_images_per_sec` column is the images/second the matching
compiled train step consumes. `--measure_train_step` measures it here with
scripts/benchmark.py's `benchmark(args, method)` (real network, method step,
optimizer and EMA on a cached dataset, so the step's time alone) for each
row, matching
  weak -> supervised, strong_randaug / strong_autoaug -> ieg (their input
  is the same shape; measured once per size), simclr -> contrastive
  (images/second = pairs/second: one image gives both views),
with the network and batch size per image size of `--step_network` /
`--step_batch_size` (default tiny, batch 32 at 32 px; resnet50, the largest
network in ieg_tf/models, batch 4 at 224 px: a CPU-sized batch, so the
number is a CPU lower bound, not what an accelerator would consume).
`--train_step pipeline@size=rate,...` still fills the column by hand (e.g.
with numbers measured on a GPU or TPU); a manual value wins over a measured
one.

Usage:
  python scripts/benchmark_input.py                      # synthetic images
  python scripts/benchmark_input.py --source cifar_jpeg  # real CIFAR JPEGs
  python scripts/benchmark_input.py --measure_train_step # + step column
"""

import argparse
import importlib.util
import json
import os
import statistics
import tarfile
import time

import numpy as np
import tensorflow as tf

from ieg_tf.augment import views

PIPELINES = ('weak', 'strong_randaug', 'strong_autoaug', 'simclr')
# The train step each pipeline feeds (a method of scripts/benchmark.py).
STEP_METHOD = {
  'weak': 'supervised',
  'strong_randaug': 'ieg',
  'strong_autoaug': 'ieg',
  'simclr': 'contrastive',
}
COLUMNS = (
  'pipeline',
  'size',
  'images_per_sec',
  'train_step_images_per_sec',
  'train_step',
  'passes',
  'batches_per_pass',
  'batch_size',
  'source',
)


def _map_fn(pipeline: str, size: int):
  """The per-element function of one pipeline: (uint8 image, seed) -> dict."""
  if pipeline == 'weak':
    return lambda x, s: {'image': views.to_float(views.weak_view(x, s))}
  if pipeline.startswith('strong_'):
    aug = pipeline[len('strong_') :]
    return lambda x, s: views.train_views(x, s, aug_type=aug)
  if pipeline == 'simclr':
    scale = (0.2, 1.0) if size <= 32 else (0.08, 1.0)
    return lambda x, s: views.simclr_views(x, s, crop_scale=scale)
  raise ValueError(f'unknown pipeline {pipeline!r}')


def synthetic_pool(size: int, count: int) -> np.ndarray:
  """uint8 [count, size, size, 3] random images (host)."""
  rng = np.random.default_rng(0)
  return rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def cifar_jpeg_pool(data_dir: str, size: int, count: int) -> np.ndarray:
  """The first `count` train JPEGs of cifar10_jpg.tar, resized to `size`."""
  path = os.path.join(data_dir, 'cifar10_jpg.tar')
  if not os.path.exists(path):
    raise SystemExit(f'{path} not found: pass --data_dir or --source synthetic')
  images = []
  with tarfile.open(path) as tar:
    for member in tar:
      if member.isfile() and member.name.endswith('.jpg'):
        data = tar.extractfile(member).read()
        image = tf.io.decode_jpeg(data, channels=3)
        if size != image.shape[0]:
          image = tf.cast(
            tf.clip_by_value(tf.image.resize(image, (size, size)), 0, 255),
            tf.uint8,
          )
        images.append(image.numpy())
        if len(images) == count:
          break
  return np.stack(images)


def make_dataset(pool, pipeline: str, batch_size: int, seed: int = 0):
  """Repeated pool -> per-element seed -> parallel map -> batch -> prefetch."""
  size = pool.shape[1]
  images = tf.data.Dataset.from_tensor_slices(pool).repeat()
  seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)
  ds = tf.data.Dataset.zip((images, seeds)).map(
    _map_fn(pipeline, size),
    num_parallel_calls=tf.data.AUTOTUNE,
    deterministic=False,
  )
  return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def measure(ds, warmup: int, passes: int, batches: int, batch_size: int):
  """Median images/second over `passes` timed passes of `batches` batches."""
  iterator = iter(ds)
  for _ in range(warmup):
    next(iterator)
  rates = []
  for _ in range(passes):
    start = time.perf_counter()
    for _ in range(batches):
      next(iterator)
    rates.append(batches * batch_size / (time.perf_counter() - start))
  return statistics.median(rates), rates


def _load_step_benchmark():
  """scripts/benchmark.py as a module (scripts/ is not a package)."""
  path = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), 'benchmark.py'
  )
  spec = importlib.util.spec_from_file_location('ieg_tf_step_benchmark', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def parse_size_map(text: str, cast=str) -> dict:
  """'32:tiny,224:resnet50' -> {32: 'tiny', 224: 'resnet50'}."""
  out = {}
  for item in filter(None, text.split(',')):
    size, value = item.split(':')
    out[int(size)] = cast(value)
  return out


def _for_size(table: dict, size: int):
  """table[size], else the entry of the nearest size."""
  if size in table:
    return table[size]
  return table[min(table, key=lambda s: abs(s - size))]


def measure_train_steps(
  pipelines,
  size: int,
  network: str,
  batch_size: int,
  steps_per_loop=2,
  warmup_chunks=1,
  chunks=3,
  bench=None,
) -> dict:
  """Images/second of the train step each pipeline feeds, at one size.

  Each distinct method is timed once (strong_randaug and strong_autoaug
  share the IEG step) with scripts/benchmark.py's `benchmark`, whose
  number is the median over `chunks` timed calls of `steps_per_loop`
  steps after `warmup_chunks` untimed ones.

  Args:
    pipelines: names from `PIPELINES`.
    size: image side.
    network: a name of ieg_tf.models.registry.NETWORK_NAMES.
    batch_size: global batch of the step.
    steps_per_loop, warmup_chunks, chunks: timing, as in benchmark.py.
    bench: the loaded scripts/benchmark.py (loaded here when None).

  Returns:
    {pipeline: benchmark.py's JSON row of the matching step}.
  """
  bench = bench or _load_step_benchmark()
  args = argparse.Namespace(
    network_name=network,
    batch_size=batch_size,
    image_size=size,
    num_classes=10,
    strategy='cpu',
    jit_compile=False,
    steps_per_loop=steps_per_loop,
    warmup_chunks=warmup_chunks,
    chunks=chunks,
  )
  by_method = {}
  for method in dict.fromkeys(STEP_METHOD[p] for p in pipelines):
    by_method[method] = bench.benchmark(args, method)
  return {p: by_method[STEP_METHOD[p]] for p in pipelines}


def format_rate(value) -> str:
  """Images/second for the table: whole numbers, 2 digits below 10."""
  return f'{value:.0f}' if value >= 10 else f'{value:.2g}'


def format_table(rows, train_step=None) -> str:
  """A fixed-width table of benchmark rows.

  Args:
    rows: dicts with at least the keys of `COLUMNS` except the
      'train_step*' ones; a row's own 'train_step_images_per_sec' (measured)
      and 'train_step' (method/network/batch) fill those columns.
    train_step: optional {(pipeline, size): images/second of the matching
      train step}, given by hand; wins over a row's measured value.

  Returns:
    The table as one string (header, rule, one line per row).
  """
  train_step = train_step or {}
  lines = []
  cells = [list(COLUMNS)]
  for row in rows:
    row = dict(row)
    step = train_step.get((row['pipeline'], row['size']))
    if step is None:
      step = row.get('train_step_images_per_sec')
    else:
      row['train_step'] = 'manual'
    row['train_step_images_per_sec'] = '' if step is None else format_rate(step)
    row['train_step'] = row.get('train_step', '')
    row['images_per_sec'] = format_rate(row['images_per_sec'])
    cells.append([str(row[c]) for c in COLUMNS])
  widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
  for n, r in enumerate(cells):
    lines.append('  '.join(c.rjust(w) for c, w in zip(r, widths)))
    if n == 0:
      lines.append('  '.join('-' * w for w in widths))
  return '\n'.join(lines)


def parse_train_step(text: str):
  """'pipeline@size=rate,...' -> {(pipeline, size): rate}."""
  out = {}
  for item in filter(None, text.split(',')):
    key, rate = item.split('=')
    pipeline, size = key.split('@')
    out[(pipeline, int(size))] = float(rate)
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--sizes', default='32,224')
  parser.add_argument('--pipelines', default=','.join(PIPELINES))
  parser.add_argument('--batch_size', type=int, default=128)
  parser.add_argument('--passes', type=int, default=5)
  parser.add_argument('--warmup', type=int, default=3)
  parser.add_argument(
    '--batches_per_pass',
    default='32:10,224:3',
    help='size:batches pairs; sizes not listed use the last value.',
  )
  parser.add_argument('--pool', type=int, default=256, help='distinct images')
  parser.add_argument(
    '--source', choices=('synthetic', 'cifar_jpeg'), default='synthetic'
  )
  parser.add_argument(
    '--data_dir',
    default=os.environ.get(
      'IEG_TF_SHARED_DATA',
      os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data'),
    ),
  )
  parser.add_argument('--train_step', default='', help='pipeline@size=rate,...')
  parser.add_argument(
    '--measure_train_step',
    action='store_true',
    help='measure the matching train step (scripts/benchmark.py) per row',
  )
  parser.add_argument(
    '--step_network',
    default='32:tiny,224:resnet50',
    help='size:network pairs for --measure_train_step (nearest size used)',
  )
  parser.add_argument(
    '--step_batch_size',
    default='32:32,224:4',
    help='size:global batch pairs for --measure_train_step',
  )
  parser.add_argument('--step_steps_per_loop', type=int, default=2)
  parser.add_argument('--step_warmup_chunks', type=int, default=1)
  parser.add_argument('--step_chunks', type=int, default=3)
  args = parser.parse_args(argv)

  per_size = dict(
    tuple(int(v) for v in pair.split(':'))
    for pair in args.batches_per_pass.split(',')
  )
  networks = parse_size_map(args.step_network)
  step_batches = parse_size_map(args.step_batch_size, int)
  pipelines = args.pipelines.split(',')
  bench = _load_step_benchmark() if args.measure_train_step else None
  rows = []
  for size in (int(s) for s in args.sizes.split(',')):
    if args.source == 'synthetic':
      pool = synthetic_pool(size, args.pool)
    else:
      pool = cifar_jpeg_pool(args.data_dir, size, args.pool)
    batches = per_size.get(size, list(per_size.values())[-1])
    steps = {}
    if args.measure_train_step:
      steps = measure_train_steps(
        pipelines,
        size,
        _for_size(networks, size),
        _for_size(step_batches, size),
        args.step_steps_per_loop,
        args.step_warmup_chunks,
        args.step_chunks,
        bench,
      )
    for pipeline in pipelines:
      ds = make_dataset(pool, pipeline, args.batch_size)
      rate, rates = measure(
        ds, args.warmup, args.passes, batches, args.batch_size
      )
      row = {
        'pipeline': pipeline,
        'size': size,
        'images_per_sec': rate,
        'pass_images_per_sec': [round(r, 1) for r in rates],
        'passes': args.passes,
        'batches_per_pass': batches,
        'batch_size': args.batch_size,
        'source': args.source,
        'cpu_count': os.cpu_count(),
        'load_avg_1min': round(os.getloadavg()[0], 2),
        'tf_version': tf.__version__,
      }
      if pipeline in steps:
        step = steps[pipeline]
        row['train_step_images_per_sec'] = step['images_per_sec']
        row['train_step'] = (
          f'{step["method"]}/{step["network_name"]}/b{step["batch_size"]}'
        )
        row['train_step_ms_median'] = step['step_ms_median']
        row['train_step_ms_min'] = step['step_ms_min']
      rows.append(row)
      print(json.dumps(row), flush=True)
  print(format_table(rows, parse_train_step(args.train_step)))


if __name__ == '__main__':
  main()
