"""`food101n`: Food-101N (Lee et al. 2018), tested on the Food-101 test set.

`--data_dir` holds both datasets as their archives unpack:
  Food-101N_release/            (or these entries directly in --data_dir)
    meta/classes.txt            header "class_name", then the 101 classes
    meta/imagelist.tsv          header "class_name/key", then
                                "<class>/<file>.jpg" per line (~310k)
    meta/verified_train.tsv     header "class_name/key<TAB>verification_label",
                                then "<class>/<file>.jpg<TAB>0|1"
    images/<class>/<file>.jpg
  food-101/
    meta/classes.txt            the 101 classes, one per line (used when
                                Food-101N's is absent)
    meta/test.txt               "<class>/<image id>" per line (25,250)
    images/<class>/<image id>.jpg

Train: every image of imagelist.tsv, labeled by its class folder (web noise).
Probe pool: the verified_train.tsv rows with verification_label 1 (a human
confirmed the class label; 0 means it is wrong, and the right class is not
given); rows whose key is not in imagelist.tsv are ignored (the release has
such a row) and counted in the log. The probe images leave train. Test: the
Food-101 test images with their labels. verified_val.tsv is not used.
Ids: position in imagelist.tsv; test 10**9 + line position. Image shape:
--image_size (default 224), decoded keeping the aspect ratio and
center-cropped. Host side.
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

NAME = 'food101n'
DEFAULT_SIZE = 224
TEST_ID_OFFSET = 10**9
_HEADERS = ('class_name', 'class_name/key')


def _release(root: str) -> str:
  for folder in (os.path.join(root, 'Food-101N_release'), root):
    if tf.io.gfile.exists(os.path.join(folder, 'meta', 'imagelist.tsv')):
      return folder
  raise UserError(
    f'{NAME}: --data_dir {root} has neither Food-101N_release/meta/'
    'imagelist.tsv nor meta/imagelist.tsv'
  )


def _data_lines(path: str) -> list[tuple[int, str]]:
  """Lines of a meta file without its header line."""
  lines = file_lists.read_lines(path)
  if lines and lines[0][1].split('\t')[0].strip() in _HEADERS:
    lines = lines[1:]
  return lines


def _classes(release: str, food101: str) -> tuple[str, ...]:
  """Food-101N's class list, else Food-101's (the same 101 names)."""
  candidates = [
    os.path.join(f, 'meta', 'classes.txt') for f in (release, food101)
  ]
  path = next((p for p in candidates if tf.io.gfile.exists(p)), None)
  if path is None:
    raise UserError(f'{NAME}: none of {", ".join(candidates)} exists')
  names = tuple(text for _, text in _data_lines(path))
  if not names or len(set(names)) != len(names):
    raise UserError(f'{path}: class names must be unique and non-empty')
  return names


def _label(key: str, index: dict[str, int], path: str, line: int) -> int:
  name = key.split('/')[0]
  if '/' not in key or name not in index:
    raise UserError(
      f'{path}: line {line}: {key!r} is not "<class>/<file>" with a known class'
    )
  return index[name]


def load(cfg: config.DataConfig) -> SplitSet:
  """Reads Food-101N's meta files and the Food-101 test list (host side).

  Raises:
    UserError: missing files, malformed lines, unknown classes or
      verification labels other than 0/1 (file and line named), or more
      missing images than --max_bad_examples.
  """
  root = cfg.data_dir
  if not root:
    raise UserError(f'{NAME} needs --data_dir (holding Food-101N and food-101)')
  release = _release(root)
  food101 = os.path.join(root, 'food-101')
  names = _classes(release, food101)
  index = {n: i for i, n in enumerate(names)}
  size = cfg.image_size or DEFAULT_SIZE
  shape = (size, size, 3)
  bad = BadExamples(NAME, cfg.max_bad_examples)

  imagelist = os.path.join(release, 'meta', 'imagelist.tsv')
  keys, labels, position = [], [], {}
  for line, text in _data_lines(imagelist):
    key = text.split('\t')[0].strip()
    position[key] = len(keys)
    keys.append(key)
    labels.append(_label(key, index, imagelist, line))
  verified = file_lists.find(release, ('meta/verified_train.tsv',), NAME)
  chosen, unknown = [], 0
  for line, text in _data_lines(verified):
    fields = text.split('\t')
    if len(fields) != 2:
      raise UserError(
        f'{verified}: line {line}: expected "<class>/<file><TAB>0|1"'
      )
    flag = file_lists.parse_int(fields[1].strip(), verified, line, 'label')
    if flag not in (0, 1):
      raise UserError(
        f'{verified}: line {line}: verification_label {flag} is not 0 or 1'
      )
    key = fields[0].strip()
    _label(key, index, verified, line)
    if key not in position:
      unknown += 1
    elif flag == 1:
      chosen.append(position[key])
  if unknown:
    logging.warning(
      '%s: %d rows of %s are not in imagelist.tsv; ignored',
      NAME,
      unknown,
      verified,
    )

  def split(paths, split_labels, ids, is_clean, ok=None):
    if ok is None:
      ok = file_lists.present(paths, bad)
    split_labels = np.asarray(split_labels, np.int32)[ok]
    return Split(
      labels=split_labels,
      ids=np.asarray(ids, np.int64)[ok],
      paths=np.asarray(paths, dtype=object)[ok],
      clean_labels=split_labels if is_clean else None,
      image_shape=shape,
      center_crop=True,
      bad_examples=bad,
    )

  train_paths = [os.path.join(release, 'images', k) for k in keys]
  train_ok = file_lists.present(train_paths, bad)
  train = split(train_paths, labels, np.arange(len(keys)), False, train_ok)
  chosen = np.asarray(sorted(set(chosen)), np.int64)
  pool = split(
    [train_paths[i] for i in chosen],
    np.asarray(labels, np.int32)[chosen],
    chosen,
    True,
    train_ok[chosen],  # Missing files are counted once, with train.
  )
  test_list = file_lists.find(food101, ('meta/test.txt',), f'{NAME} test set')
  test_rows = file_lists.read_lines(test_list)
  test = split(
    [os.path.join(food101, 'images', t + '.jpg') for _, t in test_rows],
    [_label(t, index, test_list, line) for line, t in test_rows],
    TEST_ID_OFFSET + np.arange(len(test_rows)),
    True,
  )
  bad.check()
  return SplitSet(
    name=NAME,
    class_names=names,
    train=train,
    test=test,
    probe_pool=pool,
    probe_from_test=False,
    extra_tests={},
    labels_are_clean=False,
    bad_examples=bad,
  )
