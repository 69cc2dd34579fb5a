"""`folder`: an image-folder tree of JPEG/PNG files.

Layout of `--data_dir` (read with tf.io.gfile, so gs:// works):
  train/<class>/*.jpg|*.jpeg|*.png   (extensions case-insensitive)
  probe/<class>/*   optional trusted set, used as the probe as is
  test/<class>/*    optional; without it a fixed 10% of train, chosen by
                    hash(0, id) (stream FOLDER_TEST, independent of --seed),
                    is held out as the test split.
Class names are the sorted subfolder names of train/ (label = index); probe/
and test/ may use a subset of them. Other files are ignored. Images stay as
paths and are decoded in tf.data.

Ids: train files get their index in the sorted train file list (sorted by
class folder, then file name); probe files PROBE_ID_OFFSET + index and test
files TEST_ID_OFFSET + index, so ids are unique across the three folders.

Image shape: (image_size, image_size, 3) when `cfg.image_size` > 0, else the
size of the first train image (every image is resized to it), always 3
channels. Host side.
"""

import os

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import hashing
from ieg_tf.data.bad_examples import BadExamples
from ieg_tf.data.sources.source_data import SourceData
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError

EXTENSIONS = ('.jpg', '.jpeg', '.png')
PROBE_ID_OFFSET = 10**9
TEST_ID_OFFSET = 2 * 10**9
TEST_FRACTION = 0.1


def _subfolders(root: str) -> list[str]:
  names = [n.rstrip('/') for n in tf.io.gfile.listdir(root)]
  return sorted(n for n in names if tf.io.gfile.isdir(os.path.join(root, n)))


def _images_in(folder: str) -> list[str]:
  names = [n for n in tf.io.gfile.listdir(folder) if not n.endswith('/')]
  return sorted(n for n in names if n.lower().endswith(EXTENSIONS))


def _scan(root: str, class_names: list[str] | None, id_offset: int):
  """Lists `root/<class>/<image>`; returns (classes, Split arrays).

  With `class_names` given, every class folder must be one of them.
  """
  classes = _subfolders(root)
  if class_names is None:
    class_names = classes
  unknown = sorted(set(classes) - set(class_names))
  if unknown:
    raise UserError(
      f'{root} has class folders {unknown} that train/ does not have; '
      'probe/ and test/ may only use train class names'
    )
  paths, labels = [], []
  for name in classes:
    files = _images_in(os.path.join(root, name))
    paths += [os.path.join(root, name, f) for f in files]
    labels += [class_names.index(name)] * len(files)
  ids = id_offset + np.arange(len(paths), dtype=np.int64)
  return classes, np.asarray(paths, dtype=object), np.asarray(labels), ids


def _image_shape(path: str, image_size: int) -> tuple[int, int, int]:
  if image_size > 0:
    return (image_size, image_size, 3)
  try:
    image = tf.io.decode_image(
      tf.io.read_file(path), channels=3, expand_animations=False
    )
  except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as e:
    raise UserError(f'{path}: cannot decode the image ({e.message})') from None
  return (int(image.shape[0]), int(image.shape[1]), 3)


def load(cfg: config.DataConfig) -> SourceData:
  """Loads an image-folder tree from `cfg.data_dir` (host side).

  Args:
    cfg: data config; reads `dataset`, `data_dir` and `image_size`.

  Returns:
    SourceData with the true labels (`labels_are_clean`).

  Raises:
    UserError: missing or malformed files (the message names the path).
  """
  root = cfg.data_dir
  train_dir = os.path.join(root, 'train')
  if not root or not tf.io.gfile.isdir(train_dir):
    raise UserError(
      f'folder dataset: --data_dir {root!r} must hold train/<class>/ '
      'subfolders of .jpg/.png images'
    )
  classes, paths, labels, ids = _scan(train_dir, None, 0)
  if not classes:
    raise UserError(f'{train_dir} has no class subfolders')
  counts = np.bincount(labels.astype(np.int64), minlength=len(classes))
  if counts.min() == 0:
    empty = classes[int(np.argmin(counts))]
    raise UserError(
      f'{os.path.join(train_dir, empty)} holds no .jpg/.jpeg/.png images'
    )
  shape = _image_shape(paths[0], cfg.image_size)
  bad = BadExamples('folder', cfg.max_bad_examples)

  def split(p, lab, i):
    return Split(
      labels=lab, ids=i, paths=p, image_shape=shape, bad_examples=bad
    )

  train = split(paths, labels, ids)
  optional = {}
  for part, offset in (('probe', PROBE_ID_OFFSET), ('test', TEST_ID_OFFSET)):
    folder = os.path.join(root, part)
    if not tf.io.gfile.isdir(folder):
      continue
    _, p, lab, i = _scan(folder, classes, offset)
    if not len(p):
      raise UserError(f'{folder} holds no .jpg/.jpeg/.png images')
    optional[part] = split(p, lab, i)
  if 'test' in optional:
    test = optional['test']
  else:
    held = hashing.uniform(0, ids, hashing.Stream.FOLDER_TEST) < TEST_FRACTION
    test, train = (
      train.take(np.flatnonzero(held)),
      train.take(np.flatnonzero(~held)),
    )
  return SourceData(
    name='folder',
    num_classes=len(classes),
    class_names=tuple(classes),
    train=train,
    test=test,
    probe=optional.get('probe'),
    labels_are_clean=True,
    bad_examples=bad,
  )
