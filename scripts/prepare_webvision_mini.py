"""Converts webvision_mini to sharded TFRecords for --data_dir (local or gs://).

Resumable: re-running the same command keeps finished shards. See
ieg_tf/data/convert.py and docs/datasets.md
for the expected input layout.

  python scripts/prepare_webvision_mini.py --data_dir=<original layout> \
    --output_dir=<converted folder, e.g. gs://bucket/webvision_mini>
"""

import sys

from ieg_tf.data import convert

if __name__ == '__main__':
  sys.exit(convert.main('webvision_mini'))
