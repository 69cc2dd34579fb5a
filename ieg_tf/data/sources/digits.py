"""`digits`: scikit-learn's bundled 8x8 handwritten digits (no download).

1,797 real images with gray values 0..16, scaled to uint8 0..255 as
[N, 8, 8, 1]. Ids are the positions 0..1796 in scikit-learn's order. The test
split is a fixed 20% chosen by hash(0, id) (stream DIGITS_TEST): it does not
depend on `--seed`, so runs with different seeds evaluate on the same images.
"""

import numpy as np

from ieg_tf import config
from ieg_tf.data import class_names
from ieg_tf.data import hashing
from ieg_tf.data.sources.source_data import SourceData
from ieg_tf.data.split import Split

TEST_FRACTION = 0.2


def load(cfg: config.DataConfig) -> SourceData:
  """Loads scikit-learn's digits (host side).

  Args:
    cfg: unused; the data is bundled with scikit-learn.

  Returns:
    SourceData: train uint8 [~1438, 8, 8, 1], test uint8 [~359, 8, 8, 1].
  """
  del cfg
  from sklearn import datasets  # Imported here: only this source needs it.

  bunch = datasets.load_digits()
  images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  labels = bunch.target.astype(np.int32)
  ids = np.arange(len(labels), dtype=np.int64)
  is_test = hashing.uniform(0, ids, hashing.Stream.DIGITS_TEST) < TEST_FRACTION

  def part(mask):
    return Split(labels=labels[mask], ids=ids[mask], images=images[mask])

  return SourceData(
    name='digits',
    num_classes=10,
    class_names=class_names.DIGITS,
    train=part(~is_test),
    test=part(is_test),
    probe=None,
    labels_are_clean=True,
  )
