"""`webvision_mini`: the first 50 classes of WebVision 1.0, Google subset.

`--data_dir` is the WebVision root as distributed (the "resized" package):
  info/train_filelist_google.txt  "<google/qNNNN/file.jpg> <label>" per line,
                                  labels 0..999, paths relative to the root
  info/val_filelist.txt           "<file.jpg> <label>", files in
                                  val_images_256/ (a path that already starts
                                  with val_images_256/ is taken from the root)
  info/synsets.txt                1000 lines "<wnid> <names>", line i = class
                                  i (needed only with --imagenet_dir)
  google/...  val_images_256/...
Only lines with a label < 50 are used. Train labels are the web labels (real
noise, clean labels unknown).

`--imagenet_dir` (optional) is an ILSVRC2012 folder in class-folder layout:
  val/<wnid>/*.JPEG     the 50,000 validation images sorted into folders
                        (the usual "valprep" layout); folders may instead be
                        named by WebVision class index (val/0 ... val/49)
  train/<wnid>/*.JPEG   optional; the clean probe is drawn from it
Class folders map to WebVision classes through info/synsets.txt (a folder
named by a number is that class). The second evaluation set `imagenet` holds
the val images of the 50 classes.

Probe: --probe_per_class clean images per class from ImageNet train/ when
given; otherwise held out of the WebVision val set, and the rest of val is
the test set (the IEG zip's probe is ImageNet images too).

Ids: train line index (0-based); val 10**9 + line index; ImageNet val
2 * 10**9 + position; ImageNet train 3 * 10**9 + position (sorted by class
folder, then file). Image shape: --image_size (default 224), decoded keeping
the aspect ratio and center-cropped. Host side.
"""

import os

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data.bad_examples import BadExamples
from ieg_tf.data.sources import file_lists
from ieg_tf.data.sources.split_set import SplitSet
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError

NAME = 'webvision_mini'
NUM_CLASSES = 50
ALL_CLASSES = 1000
DEFAULT_SIZE = 224
VAL_ID_OFFSET = 10**9
IMAGENET_VAL_ID_OFFSET = 2 * 10**9
IMAGENET_TRAIN_ID_OFFSET = 3 * 10**9
_IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png')


def image_shape(cfg: config.DataConfig) -> tuple[int, int, int]:
  size = cfg.image_size or DEFAULT_SIZE
  return (size, size, 3)


def _synsets(root: str) -> list[tuple[str, str]] | None:
  """[(wnid, names)] of info/synsets.txt in class order, or None if absent."""
  path = os.path.join(root, 'info', 'synsets.txt')
  if not tf.io.gfile.exists(path):
    return None
  rows = []
  for line, text in file_lists.read_lines(path):
    wnid, _, names = text.partition(' ')
    if not (wnid.startswith('n') and wnid[1:].isdigit()):
      raise UserError(
        f'{path}: line {line}: expected "<wnid> <names>", got {text!r}'
      )
    rows.append((wnid, names.strip()))
  if len(rows) < NUM_CLASSES:
    raise UserError(f'{path}: {len(rows)} synsets, need at least {NUM_CLASSES}')
  return rows


def _listed(root, list_name, base, id_offset, shape, bad) -> Split:
  """The images of one WebVision list file with label < 50."""
  path = file_lists.find(root, (os.path.join('info', list_name),), NAME)
  rows = file_lists.path_label_lines(path, ALL_CLASSES)
  keep = [
    (i, p, lab) for i, (_, p, lab) in enumerate(rows) if lab < NUM_CLASSES
  ]
  # Some copies list val files with their folder: take those from the root.
  paths = [
    os.path.join(
      root, p if not base or p.startswith(base + '/') else os.path.join(base, p)
    )
    for _, p, _ in keep
  ]
  ids = id_offset + np.asarray([i for i, _, _ in keep], np.int64)
  labels = np.asarray([lab for _, _, lab in keep], np.int32)
  ok = file_lists.present(paths, bad)
  return Split(
    labels=labels[ok],
    ids=ids[ok],
    paths=np.asarray(paths, dtype=object)[ok],
    image_shape=shape,
    center_crop=True,
    bad_examples=bad,
  )


def _imagenet_part(folder, synsets, id_offset, shape, bad) -> Split:
  """Class-folder images of the 50 classes under `folder` (val/ or train/)."""
  by_wnid = {w: i for i, (w, _) in enumerate(synsets or [])}
  classes = []
  for name in sorted(n.rstrip('/') for n in tf.io.gfile.listdir(folder)):
    if name.isdigit():
      label = int(name)
    elif name in by_wnid:
      label = by_wnid[name]
    elif synsets is None and name.startswith('n'):
      raise UserError(
        f'{folder}/{name}: wnid class folders need the WebVision class list '
        'info/synsets.txt in --data_dir'
      )
    else:
      continue
    if label < NUM_CLASSES:
      classes.append((name, label))
  found = {lab for _, lab in classes}
  if len(found) < NUM_CLASSES:
    missing = sorted(set(range(NUM_CLASSES)) - found)
    raise UserError(
      f'{folder} lacks class folders for WebVision classes {missing[:5]}...; '
      'expected <wnid>/ (or <class index>/) folders of ILSVRC2012 images'
    )
  paths, labels = [], []
  for name, label in sorted(classes):
    files = sorted(
      f
      for f in tf.io.gfile.listdir(os.path.join(folder, name))
      if f.lower().endswith(_IMAGE_EXTENSIONS)
    )
    paths += [os.path.join(folder, name, f) for f in files]
    labels += [label] * len(files)
  return Split(
    labels=labels,
    ids=id_offset + np.arange(len(paths), dtype=np.int64),
    paths=paths,
    clean_labels=labels,
    image_shape=shape,
    center_crop=True,
    bad_examples=bad,
  )


def load(cfg: config.DataConfig) -> SplitSet:
  """Reads WebVision-mini (and ImageNet) lists (host side).

  Raises:
    UserError: missing list files or folders, malformed lines, labels out of
      range (file and line named), or more missing images than
      --max_bad_examples.
  """
  root = cfg.data_dir
  if not root:
    raise UserError(f'{NAME} needs --data_dir (the WebVision root folder)')
  shape = image_shape(cfg)
  bad = BadExamples(NAME, cfg.max_bad_examples)
  train = _listed(root, 'train_filelist_google.txt', '', 0, shape, bad)
  val = _listed(
    root, 'val_filelist.txt', 'val_images_256', VAL_ID_OFFSET, shape, bad
  )
  val = val.with_labels(val.labels, val.labels)  # Human-checked labels.
  synsets = _synsets(root)
  if synsets:
    names = tuple(f'{w} {n}'.strip() for w, n in synsets[:NUM_CLASSES])
  else:
    names = tuple(str(i) for i in range(NUM_CLASSES))
  extra, pool = {}, None
  if cfg.imagenet_dir:
    val_dir = os.path.join(cfg.imagenet_dir, 'val')
    if not tf.io.gfile.isdir(val_dir):
      raise UserError(
        f'--imagenet_dir {cfg.imagenet_dir} has no val/ folder of class '
        'folders (ILSVRC2012 validation images sorted by class)'
      )
    extra['imagenet'] = _imagenet_part(
      val_dir, synsets, IMAGENET_VAL_ID_OFFSET, shape, bad
    )
    train_dir = os.path.join(cfg.imagenet_dir, 'train')
    if tf.io.gfile.isdir(train_dir):
      pool = _imagenet_part(
        train_dir, synsets, IMAGENET_TRAIN_ID_OFFSET, shape, bad
      )
  bad.check()
  return SplitSet(
    name=NAME,
    class_names=names,
    train=train,
    test=val,
    probe_pool=pool,
    probe_from_test=pool is None,
    extra_tests=extra,
    labels_are_clean=False,
    bad_examples=bad,
  )
