"""pytest set-up shared by every test file.

Marks absl flags as parsed (tf.test.TestCase reads them) and splits the CPU
into two logical devices before TensorFlow initializes, so mirrored-strategy
tests can run two replicas. Test files that need two devices call
`ensure_logical_cpus(2)` themselves too, so that each file also runs alone.
"""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import flags  # noqa: E402

from ieg_tf.runtime import devices  # noqa: E402

flags.FLAGS.mark_as_parsed()
devices.ensure_logical_cpus(2)
