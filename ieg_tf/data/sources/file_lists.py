"""Reading the owners' list files and checking that listed images exist.

Shared by the webvision, clothing1m and food101n sources (host, tf.io.gfile,
so gs:// works). Every parse error names the file and the 1-based line.
"""

import collections
import os

import numpy as np
import tensorflow as tf

from ieg_tf.data.bad_examples import BadExamples
from ieg_tf.errors import UserError


def find(folder: str, names: tuple[str, ...], what: str) -> str:
  """The first of `folder/<name>` that exists.

  Raises:
    UserError: none exists (the message lists them and says what they are).
  """
  for name in names:
    path = os.path.join(folder, name)
    if tf.io.gfile.exists(path):
      return path
  raise UserError(
    f'{what}: none of {", ".join(os.path.join(folder, n) for n in names)} '
    'exists; check --data_dir and the layout in docs/datasets.md'
  )


def read_lines(path: str) -> list[tuple[int, str]]:
  """(line number, stripped text) of the non-blank lines of a text file."""
  try:
    with tf.io.gfile.GFile(path, 'r') as f:
      text = f.read()
  except tf.errors.NotFoundError:
    raise UserError(f'{path} does not exist') from None
  except UnicodeDecodeError as e:
    raise UserError(f'{path}: not a text file ({e})') from None
  lines = text.splitlines()
  return [(i + 1, s.strip()) for i, s in enumerate(lines) if s.strip()]


def parse_int(text: str, path: str, line: int, what: str) -> int:
  try:
    return int(text)
  except ValueError:
    raise UserError(
      f'{path}: line {line}: {what} {text!r} is not an integer'
    ) from None


def check_label(label: int, limit: int, path: str, line: int) -> int:
  if not 0 <= label < limit:
    raise UserError(
      f'{path}: line {line}: label {label} is outside [0, {limit})'
    )
  return label


def path_label_lines(
  path: str, num_labels: int, sep: str | None = None
) -> list[tuple[int, str, int]]:
  """Parses `<relative path><sep><label>` lines.

  Args:
    path: the list file.
    num_labels: labels must lie in [0, num_labels).
    sep: field separator; None = any whitespace (the path is everything
      before the last field, so it may hold spaces).

  Returns:
    [(line number, relative path, label)] in file order.

  Raises:
    UserError: a line without two fields, a label that is not an integer or
      is out of range (file and line named).
  """
  rows = []
  for line, text in read_lines(path):
    fields = text.rsplit(sep, 1)
    if len(fields) != 2 or not fields[0].strip():
      raise UserError(
        f'{path}: line {line}: expected "<image path> <label>", got {text!r}'
      )
    label = parse_int(fields[1].strip(), path, line, 'label')
    rows.append(
      (line, fields[0].strip(), check_label(label, num_labels, path, line))
    )
  return rows


def present(paths: list[str], bad: BadExamples) -> np.ndarray:
  """Which files exist, with one directory listing per folder (host).

  Missing files are counted in `bad` (the caller drops them and calls
  `bad.check()`).

  Args:
    paths: full file paths.
    bad: counter of skipped examples.

  Returns:
    bool [len(paths)].
  """
  by_dir = collections.defaultdict(list)
  for i, p in enumerate(paths):
    by_dir[os.path.dirname(p)].append(i)
  ok = np.zeros(len(paths), bool)
  for folder, rows in by_dir.items():
    try:
      names = {n.rstrip('/') for n in tf.io.gfile.listdir(folder)}
    except tf.errors.NotFoundError:
      names = set()
    for i in rows:
      ok[i] = os.path.basename(paths[i]) in names
      if not ok[i]:
        bad.note_host(paths[i], 'file not found')
  return ok
