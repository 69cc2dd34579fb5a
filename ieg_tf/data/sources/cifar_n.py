"""`cifar10n` / `cifar100n`: CIFAR train images with real human labels.

CIFAR-N (Wei et al., ICLR 2022, github.com/UCSC-REAL/cifar-10-100n) gives
each CIFAR train image labels collected from Amazon Mechanical Turk workers.
`--cifarn_labels` picks the label set:
  cifar10n:  worst (default), aggre, random1, random2, random3, clean
  cifar100n: noisy100 (default), clean100
The clean labels (the official CIFAR labels) become `clean_labels`, so the
wrong-label rate and the label report are measured.

`--data_dir` holds the official CIFAR files in any layout the cifar source
reads (cifar-10-batches-py/, cifar-10-binary.tar.gz, ...) plus ONE label file,
looked for in this order (<P> = CIFAR-10_human or CIFAR-100_human):
  <P>.pt                 the authors' PyTorch file, read without torch by a
                         restricted unpickler (torch_pickle.py)
  <P>_ordered.npy, <P>.npy   the authors' pickled-dict .npy files, read the
                         same safe way
  <P>.csv, <P>_annotations.csv   a CSV with a header naming the label sets
                         (worse_label, aggre_label, random_label1..3,
                         clean_label; noisy_label for CIFAR-100N), one row per
                         train image; extra columns (a pandas index) ignored
Order check: the labels must follow the official train order (batches 1..5).
When the file has `clean_label` it must equal the CIFAR labels; otherwise the
chosen set must agree with them on >= 30% of the images (human labels agree
on ~60-91%, a shuffled file on ~1/C). A file in another order (the authors'
TFDS-order .npy) is reordered by image_order_c10.npy / image_order_c100.npy
from the authors' repository when that file sits in --data_dir (entry a is
the official position of row a), and checked again.

With an empty --data_dir, cifar10n reads a prepared TFDS `cifar10_n` copy
(never downloads). Images uint8 [N, 32, 32, 3]; ids = official positions.
Host side.
"""

import csv
import dataclasses
import io
import os

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data.bad_examples import BadExamples
from ieg_tf.data.sources import cifar
from ieg_tf.data.sources import tfds_fallback
from ieg_tf.data.sources import torch_pickle
from ieg_tf.data.sources.split_set import SplitSet
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError

MIN_AGREEMENT = 0.3


@dataclasses.dataclass(frozen=True)
class _Spec:
  base: str  # The CIFAR source name.
  prefix: str  # Label file name stem.
  order_file: str
  label_sets: dict  # --cifarn_labels value -> accepted dict keys.
  default: str


SPECS = {
  'cifar10n': _Spec(
    base='cifar10',
    prefix='CIFAR-10_human',
    order_file='image_order_c10.npy',
    label_sets={
      'worst': ('worse_label', 'worst_label'),
      'aggre': ('aggre_label',),
      'random1': ('random_label1',),
      'random2': ('random_label2',),
      'random3': ('random_label3',),
      'clean': ('clean_label',),
    },
    default='worst',
  ),
  'cifar100n': _Spec(
    base='cifar100',
    prefix='CIFAR-100_human',
    order_file='image_order_c100.npy',
    label_sets={
      'noisy100': ('noisy_label', 'noise_label'),
      'clean100': ('clean_label',),
    },
    default='noisy100',
  ),
}
_SUFFIXES = ('.pt', '_ordered.npy', '.npy', '.csv', '_annotations.csv')


def label_set_name(name: str, cfg: config.DataConfig) -> str:
  spec = SPECS[name]
  chosen = cfg.cifarn_labels or spec.default
  if chosen not in spec.label_sets:
    raise UserError(
      f'--cifarn_labels={chosen} is not a label set of {name}; choose one of '
      f'{", ".join(spec.label_sets)}'
    )
  return chosen


def _read(path: str) -> bytes:
  with tf.io.gfile.GFile(path, 'rb') as f:
    return f.read()


def _read_csv(path: str) -> dict[str, np.ndarray]:
  try:
    rows = list(csv.reader(io.StringIO(_read(path).decode('utf-8'))))
  except (UnicodeDecodeError, csv.Error) as e:
    raise UserError(f'{path}: not a readable CSV file ({e})') from None
  if not rows:
    raise UserError(f'{path}: empty file')
  header = [h.strip() for h in rows[0]]
  columns = {h: [] for h in header if h.endswith('_label') or 'label' in h}
  for line, row in enumerate(rows[1:], start=2):
    if len(row) != len(header):
      raise UserError(
        f'{path}: line {line}: {len(row)} fields, the header has {len(header)}'
      )
    for name, cell in zip(header, row):
      if name in columns:
        try:
          value = float(cell)
          if value != int(value):
            raise ValueError
        except ValueError:
          raise UserError(
            f'{path}: line {line}: {name} {cell!r} is not an integer'
          ) from None
        columns[name].append(int(value))
  return {k: np.asarray(v, np.int64) for k, v in columns.items()}


def read_label_file(path: str) -> dict[str, np.ndarray]:
  """{label set key: int64 [N]} of one CIFAR-N label file (host, safe)."""
  if path.endswith('.csv'):
    return _read_csv(path)
  data = _read(path)
  if path.endswith('.pt'):
    table = torch_pickle.load_torch(data, path)
  else:
    table = torch_pickle.load_npy_object(data, path)
  if not isinstance(table, dict):
    raise UserError(f'{path}: expected a dict of label arrays')
  out = {}
  for key, value in table.items():
    try:
      array = np.asarray(value).reshape(-1)
    except (TypeError, ValueError):
      continue
    if array.dtype.kind in 'iuf' and len(array):
      out[str(key)] = array.astype(np.int64)
  return out


def _find_label_file(folder: str, spec: _Spec) -> str:
  names = [spec.prefix + s for s in _SUFFIXES]
  for name in names:
    path = os.path.join(folder, name)
    if tf.io.gfile.exists(path):
      return path
  raise UserError(
    f'--data_dir {folder} has no CIFAR-N label file; put one of '
    f'{", ".join(names)} there (from github.com/UCSC-REAL/cifar-10-100n)'
  )


def _pick(table, spec, chosen, path) -> np.ndarray:
  for key in spec.label_sets[chosen]:
    if key in table:
      return table[key]
  raise UserError(
    f'{path}: has no {" or ".join(spec.label_sets[chosen])} labels (it has '
    f'{", ".join(sorted(table))}); choose another --cifarn_labels'
  )


def _in_order(table, labels, official) -> bool:
  if 'clean_label' in table:
    return np.array_equal(table['clean_label'], official)
  return np.mean(labels == official) >= MIN_AGREEMENT


def align(table, spec, chosen, official, path, order=None) -> dict:
  """The label table in official CIFAR order, verified (host).

  Args:
    table: {key: int64 [N]} as read from the file.
    spec: the dataset's _Spec.
    chosen: the --cifarn_labels set.
    official: int [N] the official CIFAR train labels.
    path: label file, for messages.
    order: int [N] official position of each file row, or None.

  Returns:
    The table with every array in official order.

  Raises:
    UserError: wrong length, or not in official order (even after `order`).
  """
  for key, value in table.items():
    if len(value) != len(official):
      raise UserError(
        f'{path}: {key} has {len(value)} labels, CIFAR train has '
        f'{len(official)} images'
      )
  if _in_order(table, _pick(table, spec, chosen, path), official):
    return table
  if order is not None:
    order = np.asarray(order).reshape(-1)
    if np.array_equal(np.sort(order), np.arange(len(official))):
      reordered = {}
      for key, value in table.items():
        reordered[key] = np.empty_like(value)
        reordered[key][order] = value
      if _in_order(reordered, _pick(reordered, spec, chosen, path), official):
        return reordered
  raise UserError(
    f'{path}: labels are not in the official CIFAR train order (they do not '
    f'match the CIFAR labels); use {spec.prefix}.pt, or put '
    f'{spec.order_file} from the CIFAR-N repository in --data_dir'
  )


def _from_tfds(name: str, spec: _Spec, chosen: str):
  """(train Split with all label sets as a table, test Split) from TFDS."""
  import tensorflow_datasets as tfds  # Slow import; only this path needs it.

  tfds_name = f'{spec.base}_n'
  try:
    parts = tfds.load(
      tfds_name,
      split=['train', 'test'],
      data_dir=tfds_fallback.TFDS_DATA_DIR,
      download=False,
      shuffle_files=False,
    )
  except Exception as e:  # TFDS raises AssertionError and others here.
    raise UserError(
      f'{name}: --data_dir is empty and TensorFlow Datasets has no prepared '
      f'{tfds_name} ({type(e).__name__}); put the CIFAR files and '
      f'{spec.prefix}.pt in a folder and pass it as --data_dir'
    ) from None
  splits = []
  for ds in parts:
    rows = {}
    for batch in tfds.as_numpy(ds.batch(4096)):
      for key, value in batch.items():
        rows.setdefault(key, []).append(value)
    rows = {k: np.concatenate(v) for k, v in rows.items()}
    ids = tfds_fallback.official_ids(list(rows['id']), len(rows['label']))
    order = np.argsort(ids, kind='stable')
    splits.append(({k: v[order] for k, v in rows.items()}, ids[order]))
  (train, train_ids), (test, test_ids) = splits
  table = {k: v.astype(np.int64) for k, v in train.items() if 'label' in k}
  table['clean_label'] = train['label'].astype(np.int64)
  labels = _pick(table, spec, chosen, tfds_name)
  train_split = Split(
    labels=labels,
    ids=train_ids,
    images=train['image'],
    clean_labels=train['label'],
  )
  test_split = Split(labels=test['label'], ids=test_ids, images=test['image'])
  return train_split, test_split


def load(cfg: config.DataConfig) -> SplitSet:
  """Loads CIFAR-10N / CIFAR-100N (host side).

  Raises:
    UserError: missing or unsafe files, labels out of range (entry named) or
      not in the official order, or an unknown --cifarn_labels.
  """
  name = cfg.dataset
  spec = SPECS[name]
  chosen = label_set_name(name, cfg)
  if cfg.data_dir:
    base = cifar.load(dataclasses.replace(cfg, dataset=spec.base))
    path = _find_label_file(cfg.data_dir, spec)
    order_path = os.path.join(cfg.data_dir, spec.order_file)
    order = None
    if tf.io.gfile.exists(order_path):
      with tf.io.gfile.GFile(order_path, 'rb') as f:
        order = np.load(io.BytesIO(f.read()), allow_pickle=False)
    official = base.train.labels
    table = align(read_label_file(path), spec, chosen, official, path, order)
    labels = _pick(table, spec, chosen, path)
    train = base.train.with_labels(labels.astype(np.int32), official)
    test = base.test
  else:
    path = f'TFDS {spec.base}_n'
    train, test = _from_tfds(name, spec, chosen)
    labels = train.labels
  names = cifar.CLASS_NAMES[spec.base]
  classes = len(names)
  bad = np.flatnonzero((labels < 0) | (labels >= classes))
  if bad.size:
    raise UserError(
      f'{path}: entry {bad[0]}: label {labels[bad[0]]} is outside '
      f'[0, {classes})'
    )
  return SplitSet(
    name=name,
    class_names=names,
    train=train,
    test=test,
    probe_pool=None,
    probe_from_test=False,
    extra_tests={},
    labels_are_clean=False,
    bad_examples=BadExamples(name, cfg.max_bad_examples),
    notes={'label_set': chosen},
  )
