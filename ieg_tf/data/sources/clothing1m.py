"""`clothing1m`: Clothing1M (Xiao et al. 2015) from its official files.

`--data_dir` is the Clothing1M root as the authors send it; the annotation
files sit in it or in its annotations/ folder:
  noisy_label_kv.txt        "<images/d/dd/name.jpg> <label>", ~1M lines
  clean_label_kv.txt        the same format, ~72k human-checked labels
  clean_train_key_list.txt  one image path per line (the clean train set)
  clean_val_key_list.txt    (the clean validation set)
  clean_test_key_list.txt   (the clean test set)
  noisy_train_key_list.txt  optional; the noisy train set
  category_names_eng.txt    optional; the 14 class names, one per line
  images/...                the images the paths point to
Labels are 0..13.

Splits:
  train: the keys of noisy_train_key_list.txt, else every key of
    noisy_label_kv.txt, minus the clean val and test keys (so nothing of the
    evaluation sets is trained on), with the noisy labels;
  probe pool: the clean train keys with their clean labels (--probe_per_class
    per class are drawn; a probe image that also has a noisy label leaves
    train);
  test: the clean test keys with their clean labels.
Clean labels of train are not set (only ~4% of it has one; the overlap size is
logged). Ids: position in noisy_label_kv.txt; images with only a clean label
get 10**9 + position in clean_label_kv.txt. Image shape: --image_size
(default 224), decoded keeping the aspect ratio and center-cropped. Host side.
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data.bad_examples import BadExamples
from ieg_tf.data.sources import file_lists
from ieg_tf.data.sources.split_set import SplitSet
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError

NAME = 'clothing1m'
DEFAULT_SIZE = 224
CLEAN_ID_OFFSET = 10**9
# fmt: off
CLASS_NAMES = (
  'T-Shirt', 'Shirt', 'Knitwear', 'Chiffon', 'Sweater', 'Hoodie',
  'Windbreaker', 'Jacket', 'Down Coat', 'Suit', 'Shawl', 'Dress', 'Vest',
  'Underwear',
)
# fmt: on
NUM_CLASSES = len(CLASS_NAMES)


def _annotations(root: str) -> str:
  for folder in (root, os.path.join(root, 'annotations')):
    if tf.io.gfile.exists(os.path.join(folder, 'noisy_label_kv.txt')):
      return folder
  raise UserError(
    f'{NAME}: --data_dir {root} (or its annotations/ folder) has no '
    'noisy_label_kv.txt; pass the Clothing1M root folder'
  )


def _key_list(path: str, labels: dict[str, tuple[int, int]]) -> list[str]:
  """Keys of a key-list file; each must be in `labels` (file:line if not)."""
  keys = []
  for line, text in file_lists.read_lines(path):
    if len(text.split()) != 1:
      raise UserError(f'{path}: line {line}: expected one image path')
    if text not in labels:
      kv = (
        'clean_label_kv.txt'
        if 'clean' in os.path.basename(path)
        else ('noisy_label_kv.txt')
      )
      raise UserError(f'{path}: line {line}: {text} has no label in {kv}')
    keys.append(text)
  return keys


def _kv(path: str) -> dict[str, tuple[int, int]]:
  """{key: (position, label)} of a *_label_kv.txt file."""
  table = {}
  for pos, (line, key, label) in enumerate(
    file_lists.path_label_lines(path, NUM_CLASSES)
  ):
    if key in table:
      raise UserError(f'{path}: line {line}: {key} is listed twice')
    table[key] = (pos, label)
  return table


def _class_names(folder: str) -> tuple[str, ...]:
  path = os.path.join(folder, 'category_names_eng.txt')
  if not tf.io.gfile.exists(path):
    return CLASS_NAMES
  names = tuple(text for _, text in file_lists.read_lines(path))
  if len(names) != NUM_CLASSES:
    raise UserError(f'{path}: {len(names)} names, expected {NUM_CLASSES}')
  return names


def load(cfg: config.DataConfig) -> SplitSet:
  """Reads Clothing1M's key/label files (host side).

  Raises:
    UserError: missing files, malformed lines, labels out of range or keys
      without a label (file and line named), or more missing images than
      --max_bad_examples.
  """
  root = cfg.data_dir
  if not root:
    raise UserError(f'{NAME} needs --data_dir (the Clothing1M root folder)')
  folder = _annotations(root)
  noisy = _kv(os.path.join(folder, 'noisy_label_kv.txt'))
  clean = _kv(file_lists.find(folder, ('clean_label_kv.txt',), NAME))
  lists = {
    part: _key_list(
      file_lists.find(folder, (f'clean_{part}_key_list.txt',), NAME), clean
    )
    for part in ('train', 'val', 'test')
  }
  noisy_list = os.path.join(folder, 'noisy_train_key_list.txt')
  if tf.io.gfile.exists(noisy_list):
    train_keys = _key_list(noisy_list, noisy)
  else:
    train_keys = list(noisy)
  held = set(lists['val']) | set(lists['test'])
  train_keys = [k for k in train_keys if k not in held]
  logging.info(
    '%s: %d of %d train images also have a clean label',
    NAME,
    sum(k in clean for k in train_keys),
    len(train_keys),
  )
  size = cfg.image_size or DEFAULT_SIZE
  shape = (size, size, 3)
  bad = BadExamples(NAME, cfg.max_bad_examples)
  # One check per file: the clean train keys may also be noisy train keys.
  every = sorted(set(train_keys) | set(lists['train']) | set(lists['test']))
  found = file_lists.present([os.path.join(root, k) for k in every], bad)
  exists = dict(zip(every, found))

  def split(keys, table, is_clean):
    def key_id(k):
      if k in noisy:
        return noisy[k][0]
      return CLEAN_ID_OFFSET + clean[k][0]

    paths = [os.path.join(root, k) for k in keys]
    labels = np.asarray([table[k][1] for k in keys], np.int32)
    ids = np.asarray([key_id(k) for k in keys], np.int64)
    ok = np.asarray([exists[k] for k in keys], bool)
    return Split(
      labels=labels[ok],
      ids=ids[ok],
      paths=np.asarray(paths, dtype=object)[ok],
      clean_labels=labels[ok] if is_clean else None,
      image_shape=shape,
      center_crop=True,
      bad_examples=bad,
    )

  train = split(train_keys, noisy, False)
  pool = split(lists['train'], clean, True)
  test = split(lists['test'], clean, True)
  bad.check()
  return SplitSet(
    name=NAME,
    class_names=_class_names(folder),
    train=train,
    test=test,
    probe_pool=pool,
    probe_from_test=False,
    extra_tests={},
    labels_are_clean=False,
    bad_examples=bad,
  )
