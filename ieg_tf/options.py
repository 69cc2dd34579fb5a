"""Command-line flags: the ONLY module that reads absl FLAGS.

Every flag but --recipe (and the alias --max_iteration) is generated from
one field of `config.py`, which holds its default, type, help and bounds.
`config_from_flags()` validates the parsed flags and returns the frozen
`Config` everything else uses; `flags_file_text()` is what `flags.cfg`
holds, replayable with `--flagfile`. Flag names follow the IEG code where it
had them (max_iteration, probe_dataset_hold_ratio, ...).
"""

import dataclasses
import enum
import re
import sys

from absl import flags

from ieg_tf import config as config_lib
from ieg_tf import recipes
from ieg_tf.errors import UserError

_D = config_lib

flags.DEFINE_enum(
  'recipe', recipes.DEFAULT, list(recipes.RECIPES), recipes.help_text()
)

# The config's sections, in the order their flags are listed.
SECTIONS = (
  ('data', config_lib.DataConfig),
  ('model', config_lib.ModelConfig),
  ('optim', config_lib.OptimConfig),
  ('method', config_lib.MethodConfig),
  ('ieg', config_lib.IegConfig),
  ('gce', config_lib.GceConfig),
  ('mwnet', config_lib.MwnetConfig),
  ('pretrain', config_lib.PretrainConfig),
  ('run', config_lib.RunConfig),
)


flag_name = config_lib.flag_name


def _define(field: dataclasses.Field) -> None:
  """Defines the one absl flag of a config field (`config.setting`)."""
  meta = field.metadata
  name = flag_name(field)
  default = None if meta['derived'] else field.default
  bounds = {'lower_bound': meta['lower'], 'upper_bound': meta['upper']}
  values = config_lib.allowed_values(field)
  if values:
    if isinstance(default, enum.Enum):
      default = default.value
    flags.DEFINE_enum(name, default, list(values), meta['help'])
  elif isinstance(field.default, bool):
    flags.DEFINE_bool(name, default, meta['help'])
  elif isinstance(field.default, int):
    flags.DEFINE_integer(name, default, meta['help'], **bounds)
  elif isinstance(field.default, float):
    flags.DEFINE_float(name, default, meta['help'], **bounds)
  else:
    flags.DEFINE_string(name, default, meta['help'])


for _, _section in SECTIONS:
  for _field in dataclasses.fields(_section):
    _define(_field)
flags.DEFINE_alias('max_iteration', 'train_steps')  # the IEG code's name

FLAGS = flags.FLAGS

_SHORTHAND = re.compile(
  r'^(?P<name>[a-z0-9_]+?)_(?P<noise>uniform|flip|asymmetric|none)'
  r'_(?P<ratio>[0-9]*\.?[0-9]+)$'
)


def parse_dataset(value: str) -> tuple:
  """Splits IEG shorthand `<name>_<noise>_<ratio>`.

  Args:
    value: the --dataset value.

  Returns:
    (name, noise_type or None, ratio or None).

  Raises:
    UserError: the ratio is outside [0, 1].
  """
  m = _SHORTHAND.match(value)
  if not m:
    return value, None, None
  ratio = float(m.group('ratio'))
  if not 0.0 <= ratio <= 1.0:
    raise UserError(
      f'--dataset={value}: noise ratio {ratio} is outside [0, 1].'
    )
  return m.group('name'), _D.NoiseType(m.group('noise')), ratio


def apply_recipe() -> None:
  """Sets the --recipe's values on every flag the command line left unset.

  Raises:
    ValueError: the recipe names a flag this module does not define or a
      value its flag rejects (a bug in `recipes.py`, caught by its test).
  """
  for name, value in recipes.RECIPES[FLAGS.recipe].flags.items():
    flag = FLAGS[name]
    if not flag.present:
      setattr(FLAGS, name, flag.parser.parse(value))


def _section_values(section) -> dict:
  """Field name -> parsed flag value, for one config section."""
  return {
    f.name: _typed(f, FLAGS[flag_name(f)].value)
    for f in dataclasses.fields(section)
  }


def _typed(field: dataclasses.Field, value):
  """A flag's value as its field's type (enum flags parse to str)."""
  if value is not None and isinstance(field.default, enum.Enum):
    return type(field.default)(value)
  return value


def config_from_flags() -> config_lib.Config:
  """Builds and validates the Config from parsed flags (host, once).

  The derived flags (`config.setting(derived=True)`), unset, resolve so:
  --noise_type and --noise_ratio from the --dataset shorthand, else none
  for real-noise datasets / uniform 0.8; --probe_dataset_hold_ratio, unset,
  leaves --probe_per_class in charge. Batch sizes of 0 mean --batch_size.
  """
  apply_recipe()
  values = {name: _section_values(cls) for name, cls in SECTIONS}
  data = values['data']
  name, noise, ratio = parse_dataset(data['dataset'])
  data['dataset'] = name
  if data['noise_type'] is None:
    data['noise_type'] = noise or (
      _D.NoiseType.NONE
      if name in _D.REAL_NOISE_DATASETS
      else _D.DataConfig.noise_type
    )
  if data['noise_ratio'] is None:
    data['noise_ratio'] = _D.DataConfig.noise_ratio if ratio is None else ratio
  if data['probe_hold_ratio'] is None:
    data['probe_hold_ratio'] = _D.DataConfig.probe_hold_ratio
  else:
    data['probe_per_class'] = 0
  run = values['run']
  run['eval_batch_size'] = run['eval_batch_size'] or run['batch_size']
  values['pretrain']['batch_size'] = (
    values['pretrain']['batch_size'] or run['batch_size']
  )
  return _D.Config(**{n: cls(**values[n]) for n, cls in SECTIONS})


def flags_file_text() -> str:
  """The resolved flags of this module, one `--name=value` per line."""
  module = sys.modules[__name__]
  lines = []
  for flag in FLAGS.get_flags_for_module(module):
    if flag.name == 'max_iteration':  # alias of train_steps
      continue
    if flag.value is None:
      continue
    lines.append(flag.serialize())
  return '\n'.join(sorted(lines)) + '\n'
