"""Any real-noise dataset converted by scripts/prepare_<dataset>.py.

`--data_dir` is the converted folder (local or gs://; see record_format.py):
the registry uses this loader whenever that folder holds dataset_info.json.
The splits come back in records mode (images stay in the shards) with the
same ids, labels and roles the original layout gives, so the probe and the
noise are the same as in a run on the original files.

Image shape: --image_size when > 0, else the one stored at conversion
(224 for web datasets, 32 for CIFAR-N). Host side.
"""

from absl import logging

from ieg_tf import config
from ieg_tf.data import record_format
from ieg_tf.data import record_reader
from ieg_tf.data.bad_examples import BadExamples
from ieg_tf.data.sources import split_set as split_set_lib
from ieg_tf.data.sources.split_set import SplitSet
from ieg_tf.errors import UserError


def load(cfg: config.DataConfig) -> SplitSet:
  """Reads a converted dataset's index and info (host side).

  Raises:
    UserError: another dataset's folder, another CIFAR-N label set than
      --cifarn_labels asks for, unreadable files, or more skipped examples
      (converter skips plus damaged shards) than --max_bad_examples.
  """
  folder = cfg.data_dir
  info = record_format.read_info(folder)
  name = info.get('name')
  if name != cfg.dataset:
    raise UserError(
      f'--data_dir {folder} holds converted {name}, not {cfg.dataset}'
    )
  notes = dict(info.get('notes', {}))
  stored = notes.get('label_set')
  if stored and cfg.cifarn_labels and cfg.cifarn_labels != stored:
    raise UserError(
      f'{folder} was converted with --cifarn_labels={stored}; re-run '
      f'scripts/prepare_{name}.py with --cifarn_labels={cfg.cifarn_labels}'
    )
  shape = tuple(info['image_shape'])
  if cfg.image_size > 0:
    shape = (cfg.image_size, cfg.image_size, shape[2])
  bad = BadExamples(name, cfg.max_bad_examples)
  for where, reason in info.get('missing_files', []):
    bad.note_host(where, f'left out by the converter: {reason}')
  splits = {
    part: record_reader.load_split(
      folder,
      part,
      entry,
      shape,
      bool(info['center_crop']),
      bad,
      # Train is streamed from its shards whatever its size, so every
      # converted dataset trains through the same (resumable) path.
      materialize_small=part != split_set_lib.TRAIN,
    )
    for part, entry in sorted(info['splits'].items())
  }
  extra = {
    part[len(split_set_lib.EXTRA) :]: split
    for part, split in splits.items()
    if part.startswith(split_set_lib.EXTRA)
  }
  if cfg.imagenet_dir and not extra:
    logging.warning(
      '--imagenet_dir is ignored: %s was converted without it', folder
    )
  bad.check()
  return SplitSet(
    name=name,
    class_names=tuple(info['class_names']),
    train=splits[split_set_lib.TRAIN],
    test=splits[split_set_lib.TEST],
    probe_pool=splits.get(split_set_lib.POOL),
    probe_from_test=bool(info['probe_from_test']),
    extra_tests=extra,
    labels_are_clean=bool(info['labels_are_clean']),
    bad_examples=bad,
    notes=notes,
  )
