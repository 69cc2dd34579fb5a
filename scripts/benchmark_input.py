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

The `train_step_images_per_sec` column is for the images/second the matching
train step consumes; pass it with --train_step (e.g.
`--train_step strong_randaug@32=850,simclr@224=40`) or through
`format_table(rows, train_step=...)`; it stays empty otherwise.

Usage:
  python scripts/benchmark_input.py                      # synthetic images
  python scripts/benchmark_input.py --source cifar_jpeg  # real CIFAR JPEGs
"""

import argparse
import json
import os
import statistics
import tarfile
import time

import numpy as np
import tensorflow as tf

from ieg_tf.augment import views

PIPELINES = ('weak', 'strong_randaug', 'strong_autoaug', 'simclr')
COLUMNS = (
  'pipeline',
  'size',
  'images_per_sec',
  'train_step_images_per_sec',
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


def format_table(rows, train_step=None) -> str:
  """A fixed-width table of benchmark rows.

  Args:
    rows: dicts with at least the keys of `COLUMNS` except
      'train_step_images_per_sec'.
    train_step: optional {(pipeline, size): images/second of the matching
      train step}; fills the `train_step_images_per_sec` column.

  Returns:
    The table as one string (header, rule, one line per row).
  """
  train_step = train_step or {}
  lines = []
  cells = [list(COLUMNS)]
  for row in rows:
    row = dict(row)
    step = train_step.get((row['pipeline'], row['size']))
    row['train_step_images_per_sec'] = '' if step is None else f'{step:.0f}'
    row['images_per_sec'] = f'{row["images_per_sec"]:.0f}'
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


def main():
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
  args = parser.parse_args()

  per_size = dict(
    tuple(int(v) for v in pair.split(':'))
    for pair in args.batches_per_pass.split(',')
  )
  rows = []
  for size in (int(s) for s in args.sizes.split(',')):
    if args.source == 'synthetic':
      pool = synthetic_pool(size, args.pool)
    else:
      pool = cifar_jpeg_pool(args.data_dir, size, args.pool)
    batches = per_size.get(size, list(per_size.values())[-1])
    for pipeline in args.pipelines.split(','):
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
      rows.append(row)
      print(json.dumps(row), flush=True)
  print(format_table(rows, parse_train_step(args.train_step)))


if __name__ == '__main__':
  main()
