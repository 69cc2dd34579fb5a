"""Parsing the process-wide absl flags in a test, and undoing it after."""

from absl import flags
import tensorflow as tf

from ieg_tf import options

FLAGS = flags.FLAGS


def parse(*argv):
  """The Config `python -m ieg_tf.main *argv` would build (flags reset first)."""
  FLAGS.unparse_flags()
  FLAGS(['ieg_tf', *argv])
  return options.config_from_flags()


class FlagsTestCase(tf.test.TestCase):
  """Leaves the flags parsed at their defaults after every test."""

  def tearDown(self):
    FLAGS.unparse_flags()
    FLAGS.mark_as_parsed()
    super().tearDown()
