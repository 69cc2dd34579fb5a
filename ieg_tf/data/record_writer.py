"""Writing a SplitSet as sharded TFRecords (`record_format`), resumably.

Per split: examples go to shards in a fixed pseudo-random order (hash of the
id; the probe pool in `probe.probe_order` at the default seed, so the usual
probe sits in the first shard). Each shard is written under a temporary name,
its index file is written next, then the shard is renamed: a shard under its
final name is complete, and a re-run skips it. `<split>.plan.json` records
what the shards hold (count, shard count, a digest of ids and labels); a
re-run with different inputs stops instead of mixing two plans.

Every image is read, checked with `image_check` and (validate='decode')
decoded once here, on the host, in a thread pool; files that fail are left
out and listed in dataset_info.json with the reason, so training counts them
against --max_bad_examples. File images are stored as they are (no
re-encode); in-memory images (CIFAR) are stored as PNG.
"""

import concurrent.futures
import hashlib
import io
import json
import math
import os
import sys
import time

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import hashing
from ieg_tf.data import image_check
from ieg_tf.data import probe as probe_lib
from ieg_tf.data import record_format
from ieg_tf.data.sources import split_set as split_set_lib
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError

VALIDATE_MODES = ('decode', 'header')


class Progress:
  """One self-overwriting progress line on stderr (no tqdm)."""

  def __init__(self, label: str, total: int, stream=None):
    self.label, self.total = label, total
    self.stream = stream or sys.stderr
    self.start = time.time()
    self.last = 0.0

  def update(self, done: int, bad: int, shard: str, force: bool = False):
    now = time.time()
    if not force and now - self.last < 1.0:
      return
    self.last = now
    rate = done / max(now - self.start, 1e-6)
    eta = (self.total - done) / rate if rate > 0 else 0.0
    self.stream.write(
      f'\r{self.label}: {done}/{self.total} images, {bad} skipped, '
      f'{rate:.0f}/s, ETA {eta:.0f}s, {shard}'
    )
    self.stream.flush()

  def close(self):
    self.stream.write('\n')
    self.stream.flush()


def _order(name: str, split: Split) -> np.ndarray:
  if name == split_set_lib.POOL:
    seed = config.DataConfig().seed
    return probe_lib.probe_order(split.labels, split.ids, seed)
  keys = hashing.hash64(0, split.ids, hashing.Stream.RECORD_ORDER)
  return np.argsort(keys, kind='stable')


def _key(path: str, roots: tuple[str, ...]) -> str:
  for root in roots:
    prefix = root.rstrip('/') + '/'
    if root and path.startswith(prefix):
      return path[len(prefix) :]
  return path


def _load_bytes(split: Split, row: int, validate: str):
  """(bytes, None) or (None, reason) for one row (host, thread-safe)."""
  if split.images is not None:
    return tf.io.encode_png(split.images[row]).numpy(), None
  if split.encoded is not None:
    data = bytes(split.encoded[row])
  else:
    try:
      with tf.io.gfile.GFile(split.paths[row], 'rb') as f:
        data = f.read()
    except (tf.errors.OpError, OSError) as e:
      return None, f'unreadable ({type(e).__name__})'
  if not image_check.looks_like_image_py(data):
    return None, 'empty, truncated or not an image'
  if validate == 'decode':
    try:
      tf.io.decode_image(
        data, channels=split.image_shape[2], expand_animations=False
      )
    except tf.errors.OpError as e:
      return None, f'cannot decode ({e.message.splitlines()[0][:80]})'
  return data, None


def _plan(name, split, order, num_shards) -> dict:
  digest = hashlib.sha256()
  digest.update(split.ids[order].tobytes())
  digest.update(split.labels[order].tobytes())
  return {
    'split': name,
    'count': len(split),
    'num_shards': num_shards,
    'digest': digest.hexdigest(),
  }


def _check_plan(folder: str, plan: dict) -> None:
  path = os.path.join(folder, f'{plan["split"]}.plan.json')
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path, 'r') as f:
      old = json.load(f)
    if old != plan:
      raise UserError(
        f'{path}: the output folder holds shards of other inputs ({old}); '
        'use a new --output_dir or pass --overwrite'
      )
  else:
    record_format.atomic_write(path, json.dumps(plan).encode('utf-8'))


def _write_shard(
  folder, name, split, rows, shard, num_shards, roots, pool, validate
):
  """Writes one shard and its index; returns (size, [(key, reason)])."""
  final = os.path.join(
    folder, record_format.shard_name(name, shard, num_shards)
  )
  index_path = os.path.join(
    folder, record_format.shard_index_name(name, shard, num_shards)
  )
  if tf.io.gfile.exists(final) and tf.io.gfile.exists(index_path):
    return _read_shard_meta(index_path)
  tmp = f'{final}.tmp-{os.getpid()}'
  results = pool.map(lambda r: _load_bytes(split, r, validate), rows)
  good, bad = [], []
  clean = split.clean_labels
  with tf.io.TFRecordWriter(tmp) as writer:
    for row, (data, reason) in zip(rows, results):
      key = (
        _key(str(split.paths[row]), roots) if split.paths is not None else ''
      )
      if data is None:
        bad.append((key or str(split.ids[row]), reason))
        continue
      writer.write(
        record_format.serialize_example(
          data,
          split.labels[row],
          split.ids[row],
          record_format.UNKNOWN if clean is None else clean[row],
          key,
        )
      )
      good.append((row, key))
  size = tf.io.gfile.stat(tmp).length
  picked = np.asarray([r for r, _ in good], np.int64)
  buffer = io.BytesIO()
  np.savez_compressed(
    buffer,
    ids=split.ids[picked],
    labels=split.labels[picked],
    clean_labels=(
      np.full(len(picked), record_format.UNKNOWN, np.int32)
      if clean is None
      else clean[picked]
    ),
    shards=np.full(len(picked), shard, np.int32),
    keys=np.asarray([k.encode('utf-8') for _, k in good], dtype=bytes),
    size=np.asarray(size, np.int64),
    bad=np.asarray(json.dumps(bad)),
  )
  record_format.atomic_write(index_path, buffer.getvalue())
  tf.io.gfile.rename(tmp, final, overwrite=True)
  return size, bad


def _read_shard_meta(index_path: str):
  with tf.io.gfile.GFile(index_path, 'rb') as f:
    with np.load(io.BytesIO(f.read()), allow_pickle=False) as z:
      return int(z['size']), [tuple(b) for b in json.loads(str(z['bad']))]


def write_split(
  folder: str,
  name: str,
  split: Split,
  *,
  roots: tuple[str, ...],
  examples_per_shard: int,
  threads: int,
  validate: str,
) -> dict:
  """Converts one split; returns its dataset_info.json entry (host).

  Args:
    folder: output folder (local or gs://).
    name: split name ('train', 'test', 'probe_pool', 'extra_<name>').
    split: the split, in paths, encoded or images mode.
    roots: dataset folders; record keys are paths relative to them.
    examples_per_shard: examples per shard (the last may hold fewer).
    threads: reader / validator threads.
    validate: 'decode' (decode every image once) or 'header' (structural
      check only).

  Returns:
    {'shards': [file names], 'sizes': [bytes], 'count': written examples,
     'bad': [[key, reason], ...]}.
  """
  order = _order(name, split)
  num_shards = max(1, math.ceil(len(split) / examples_per_shard))
  _check_plan(folder, _plan(name, split, order, num_shards))
  progress = Progress(name, len(split))
  sizes, bad_all, done = [], [], 0
  with concurrent.futures.ThreadPoolExecutor(threads) as pool:
    for shard in range(num_shards):
      rows = order[
        shard * examples_per_shard : (shard + 1) * examples_per_shard
      ]
      size, bad = _write_shard(
        folder, name, split, rows, shard, num_shards, roots, pool, validate
      )
      sizes.append(size)
      bad_all += [list(b) for b in bad]
      done += len(rows)
      progress.update(
        done,
        len(bad_all),
        record_format.shard_name(name, shard, num_shards),
        force=shard == num_shards - 1,
      )
  progress.close()
  _merge_indexes(folder, name, num_shards)
  return {
    'shards': [
      record_format.shard_name(name, s, num_shards) for s in range(num_shards)
    ],
    'sizes': sizes,
    'count': len(split) - len(bad_all),
    'bad': bad_all,
  }


def _merge_indexes(folder: str, name: str, num_shards: int) -> None:
  parts = [
    record_format.read_index(
      os.path.join(folder, record_format.shard_index_name(name, s, num_shards))
    )
    for s in range(num_shards)
  ]
  merged = record_format.Index(
    **{
      field: np.concatenate([getattr(p, field) for p in parts])
      for field in ('ids', 'labels', 'clean_labels', 'shards', 'keys')
    }
  )
  record_format.write_index(
    os.path.join(folder, record_format.index_name(name)), merged
  )


def convert(
  s: split_set_lib.SplitSet,
  folder: str,
  *,
  roots: tuple[str, ...],
  examples_per_shard: int = 1024,
  threads: int = 8,
  validate: str = 'decode',
) -> dict:
  """Writes every split of `s` and then dataset_info.json (host).

  Returns:
    The dataset_info.json contents.
  """
  if validate not in VALIDATE_MODES:
    raise ValueError(f'validate must be one of {VALIDATE_MODES}')
  tf.io.gfile.makedirs(folder)
  entries = {
    name: write_split(
      folder,
      name,
      split,
      roots=roots,
      examples_per_shard=examples_per_shard,
      threads=threads,
      validate=validate,
    )
    for name, split in s.named_splits().items()
  }
  info = {
    'name': s.name,
    'class_names': list(s.class_names),
    'image_shape': list(s.train.image_shape),
    'center_crop': bool(s.train.center_crop),
    'labels_are_clean': bool(s.labels_are_clean),
    'probe_from_test': bool(s.probe_from_test),
    'notes': dict(s.notes),
    'splits': entries,
  }
  record_format.write_info(folder, info)
  return info
