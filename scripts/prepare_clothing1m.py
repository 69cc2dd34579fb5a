"""Converts clothing1m to sharded TFRecords for --data_dir (local or gs://).

Resumable: re-running the same command keeps finished shards. See
ieg_tf/data/convert.py and docs/datasets.md
for the expected input layout.

  python scripts/prepare_clothing1m.py --data_dir=<original layout> \
    --output_dir=<converted folder, e.g. gs://bucket/clothing1m>
"""

import sys

from ieg_tf.data import convert

if __name__ == '__main__':
  sys.exit(convert.main('clothing1m'))
