"""Every user flag is generated from one config field: one default each."""

import dataclasses
import enum
import sys

from absl import flags
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf import options
from tests import flag_parsing

FLAGS = flags.FLAGS
# The flags that are not config fields.
_NOT_FIELDS = ('recipe', 'max_iteration')


def _fields():
  for _, section in options.SECTIONS:
    yield from dataclasses.fields(section)


class ConfigFlagsTest(flag_parsing.FlagsTestCase):
  def test_every_flag_comes_from_exactly_one_field(self):
    names = [options.flag_name(f) for f in _fields()]
    self.assertLen(set(names), len(names))  # no two fields share a flag
    defined = {
      f.name for f in FLAGS.get_flags_for_module(sys.modules[options.__name__])
    }
    self.assertEqual(defined - set(_NOT_FIELDS), set(names))
    self.assertContainsSubset(_NOT_FIELDS, defined)

  def test_flag_defaults_are_the_field_defaults(self):
    for field in _fields():
      flag = FLAGS[options.flag_name(field)]
      with self.subTest(field.name):
        self.assertTrue(field.metadata['help'], 'every field has help')
        if field.metadata['derived']:
          self.assertIsNone(flag.default)
          continue
        want = field.default
        if isinstance(want, enum.Enum):
          want = want.value
        self.assertEqual(flag.default, want)
        self.assertEqual(type(flag.default), type(want))

  def test_no_flags_resolve_to_the_default_config(self):
    got = flag_parsing.parse()
    want = config_lib.default_config()
    batch = want.run.batch_size  # a batch of 0 means --batch_size
    want = dataclasses.replace(
      want,
      run=dataclasses.replace(want.run, eval_batch_size=batch),
      pretrain=dataclasses.replace(want.pretrain, batch_size=batch),
    )
    self.assertEqual(got, want)

  def test_bounds_reach_the_flags(self):
    for field in _fields():
      parser = FLAGS[options.flag_name(field)].parser
      with self.subTest(field.name):
        self.assertEqual(
          getattr(parser, 'lower_bound', None), field.metadata['lower']
        )
        self.assertEqual(
          getattr(parser, 'upper_bound', None), field.metadata['upper']
        )

  def test_allowed_values_reach_the_flags(self):
    fields = {f.name: f for f in _fields()}
    # An enum field lists its members' values, a `choices` field its choices.
    self.assertEqual(
      config_lib.allowed_values(fields['relabel_rule']),
      tuple(m.value for m in config_lib.RelabelRule),
    )
    self.assertIsNone(config_lib.allowed_values(fields['learning_rate']))
    for field in fields.values():
      values = config_lib.allowed_values(field)
      parser = FLAGS[options.flag_name(field)].parser
      with self.subTest(field.name):
        self.assertEqual(
          getattr(parser, 'enum_values', None), values and list(values)
        )

  def test_replace_fields_routes_flag_names_to_their_sections(self):
    base = config_lib.default_config()
    cfg = config_lib.replace_fields(
      base,
      method=config_lib.Method.L2R,
      num_views=3,
      gce_q=0.5,
      pretrain_batch_size=64,
    )
    self.assertEqual(cfg.method.method, config_lib.Method.L2R)
    self.assertEqual(cfg.ieg.num_views, 3)
    self.assertEqual(cfg.gce.gce_q, 0.5)
    # The flag name picks the section: --pretrain_batch_size, not
    # --batch_size, though both fields are called batch_size.
    self.assertEqual(cfg.pretrain.batch_size, 64)
    self.assertEqual(cfg.run.batch_size, base.run.batch_size)
    self.assertEqual(cfg.data, base.data)
    with self.assertRaisesRegex(TypeError, 'no config flag named nope'):
      config_lib.replace_fields(base, nope=1)

  def test_replace_fields_matches_the_parsed_flags(self):
    got = flag_parsing.parse('--num_views=3', '--mwnet_hidden_units=7')
    want = config_lib.replace_fields(
      flag_parsing.parse(), num_views=3, mwnet_hidden_units=7
    )
    self.assertEqual(got, want)


if __name__ == '__main__':
  tf.test.main()
