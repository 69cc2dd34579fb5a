"""docs/flags.md is the flag reference the configuration generates."""

import os
import sys

from absl import flags
import tensorflow as tf

from ieg_tf import flag_reference
from ieg_tf import options

_DOC = os.path.join(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
  'docs',
  'flags.md',
)


class FlagReferenceTest(tf.test.TestCase):
  def test_docs_flags_md_is_fresh(self):
    with open(_DOC) as f:
      stored = f.read()
    self.assertEqual(
      stored,
      flag_reference.markdown(),
      'docs/flags.md is stale: run '
      '`python -m ieg_tf.flag_reference > docs/flags.md`',
    )

  def test_every_flag_is_listed_once(self):
    text = flag_reference.markdown()
    module = sys.modules[options.__name__]
    for flag in flags.FLAGS.get_flags_for_module(module):
      with self.subTest(flag.name):
        self.assertEqual(text.count(f'`--{flag.name}`'), 1)


if __name__ == '__main__':
  tf.test.main()
