"""Given noisy labels for the train split (`--noisy_labels_file`).

Two formats (host side, read with tf.io.gfile so gs:// paths work too):

.npy: a 1-D integer array, one label per train example in source order
  (the order of `Split.labels`).
.csv: a header row naming a `label` column and a key column, either `id`
  (matched to `Split.ids`) or `path` (matched to `Split.paths`); with both,
  `id` is used. Other columns are ignored. A `path` cell matches a split path
  when, after turning '\\' into '/' and dropping empty and '.' components, it
  equals the whole split path or its last components: 'train/cat/0001.jpg'
  and '0001.jpg' both match '/data/pets/train/cat/0001.jpg'. A cell that
  matches several split paths is an error (give more of the path).

Every train example must get exactly one label in [0, C).
"""

import csv
import os

import numpy as np
import tensorflow as tf

from ieg_tf.data.split import Split
from ieg_tf.errors import UserError


def _components(path: str) -> tuple[str, ...]:
  parts = str(path).replace('\\', '/').split('/')
  return tuple(p for p in parts if p not in ('', '.'))


def _check_range(labels, num_classes, where) -> None:
  bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
  if bad.size:
    raise UserError(
      f'{where(bad[0])}: label {labels[bad[0]]} is outside [0, {num_classes})'
    )


def _load_npy(path: str, split: Split, num_classes: int) -> np.ndarray:
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      labels = np.load(f, allow_pickle=False)
  except (ValueError, OSError, EOFError) as e:
    raise UserError(f'{path}: not a readable .npy array ({e})') from None
  if labels.ndim != 1 or labels.dtype.kind not in 'iu':
    raise UserError(
      f'{path}: must be a 1-D integer array, got {labels.dtype} {labels.shape}'
    )
  if len(labels) != len(split):
    raise UserError(
      f'{path}: has {len(labels)} labels but the train split has '
      f'{len(split)} examples (one label per example, in source order)'
    )
  _check_range(labels, num_classes, lambda i: f'{path}: entry {i}')
  return labels.astype(np.int32)


def _path_index(split: Split, depth: int) -> dict[tuple[str, ...], int]:
  """Maps every path suffix of up to `depth` components (and every full
  path) to its example index, or to -1 when several examples share it."""
  index = {}
  for i, p in enumerate(split.paths):
    parts = _components(p)
    keys = {parts[-n:] for n in range(1, min(depth, len(parts)) + 1)}
    keys.add(parts)
    for key in keys:
      index[key] = -1 if key in index else i
  return index


def _read_rows(path: str):
  """Returns (header, [(line, row dict)]) of a CSV file."""
  try:
    with tf.io.gfile.GFile(path, 'r') as f:
      reader = csv.DictReader(f)
      rows = [(reader.line_num, row) for row in reader]
      header = [h.strip() for h in (reader.fieldnames or [])]
  except (csv.Error, UnicodeDecodeError) as e:
    raise UserError(f'{path}: not a readable CSV file ({e})') from None
  stripped = []
  for line, row in rows:
    stripped.append((line, {(k or '').strip(): v for k, v in row.items()}))
  return header, stripped


def _load_csv(path: str, split: Split, num_classes: int) -> np.ndarray:
  header, rows = _read_rows(path)
  key = 'id' if 'id' in header else 'path' if 'path' in header else None
  if 'label' not in header or key is None:
    raise UserError(
      f'{path}: line 1 must be a header with a label column and an id or '
      f'path column, got {header}'
    )
  if key == 'path' and split.paths is None:
    raise UserError(
      f'{path}: this dataset has no image files to match a path column; use '
      'an id column'
    )
  if key == 'id':
    lookup = {int(v): i for i, v in enumerate(split.ids)}
  else:
    cells = [_components(row.get('path') or '') for _, row in rows]
    lookup = _path_index(split, max((len(c) for c in cells), default=1))
  labels = np.full(len(split), -1, np.int64)
  seen_on = np.zeros(len(split), np.int64)
  for line, row in rows:
    cell, text = (row.get(key) or '').strip(), (row.get('label') or '').strip()
    try:
      label = int(text)
    except ValueError:
      raise UserError(
        f'{path}: line {line}: label {text!r} is not an integer'
      ) from None
    if key == 'id':
      try:
        where = lookup.get(int(cell))
      except ValueError:
        raise UserError(
          f'{path}: line {line}: id {cell!r} is not an integer'
        ) from None
    else:
      where = lookup.get(_components(cell))
      if where == -1:
        raise UserError(
          f'{path}: line {line}: path {cell!r} matches several images; '
          'give more of the path'
        )
    if where is None:
      raise UserError(f'{path}: line {line}: unknown {key} {cell!r}')
    if seen_on[where]:
      raise UserError(
        f'{path}: line {line}: {key} {cell!r} already given on line '
        f'{seen_on[where]}'
      )
    if not 0 <= label < num_classes:
      raise UserError(
        f'{path}: line {line}: label {label} is outside [0, {num_classes})'
      )
    labels[where], seen_on[where] = label, line
  missing = np.flatnonzero(seen_on == 0)
  if missing.size:
    first = split.ids[missing[0]] if key == 'id' else split.paths[missing[0]]
    raise UserError(
      f'{path}: {missing.size} of {len(split)} train examples have no row, '
      f'e.g. {key} {first}'
    )
  return labels.astype(np.int32)


def load_noisy_labels(path: str, split: Split, num_classes: int) -> np.ndarray:
  """Reads given noisy labels for `split` (host).

  Args:
    path: a .npy or .csv file (see the module docstring for the formats).
    split: the train split the labels belong to (all source train examples).
    num_classes: C.

  Returns:
    int32 [N] labels aligned with `split`.

  Raises:
    UserError: missing file, unknown format, wrong length, unknown / repeated /
      missing ids or paths, non-integer labels or labels outside [0, C); the
      message names the file and the line (CSV) or entry (.npy).
  """
  if not tf.io.gfile.exists(path):
    raise UserError(
      f'noisy labels file {path} does not exist (set --noisy_labels_file to a '
      '.npy or .csv file)'
    )
  ext = os.path.splitext(path)[1].lower()
  if ext == '.npy':
    return _load_npy(path, split, num_classes)
  if ext == '.csv':
    return _load_csv(path, split, num_classes)
  raise UserError(f'noisy labels file {path} must end in .npy or .csv')
