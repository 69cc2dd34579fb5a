"""Converts cifar10n to sharded TFRecords for --data_dir (local or gs://).

Resumable: re-running the same command keeps finished shards. See
ieg_tf/data/convert.py and docs/datasets.md
for the expected input layout.

  python scripts/prepare_cifar10n.py --data_dir=<original layout> \
    --output_dir=<converted folder, e.g. gs://bucket/cifar10n>
"""

import sys

from ieg_tf.data import convert

if __name__ == '__main__':
  sys.exit(convert.main('cifar10n'))
