"""The flag reference (docs/flags.md), generated from the configuration.

`python -m ieg_tf.flag_reference > docs/flags.md` rewrites it; a test fails
when the file and the configuration disagree.
"""

import dataclasses
import enum

from ieg_tf import config
from ieg_tf import options
from ieg_tf import recipes

_TITLES = {
  'data': 'Data, noise and probe',
  'model': 'Network',
  'optim': 'Optimizer',
  'method': 'Method and look-ahead',
  'ieg': 'IEG',
  'gce': 'GCE',
  'mwnet': 'Meta-Weight-Net',
  'pretrain': 'Contrastive stage',
  'run': 'Run',
}


def _default_text(field: dataclasses.Field) -> str:
  if field.metadata['derived']:
    return '(derived)'
  value = field.default
  if isinstance(value, enum.Enum):
    value = value.value
  if isinstance(value, bool):
    value = str(value).lower()
  return f'`{value}`' if value != '' else "`''`"


def _values_text(field: dataclasses.Field) -> str:
  meta = field.metadata
  values = config.allowed_values(field)
  if values:
    return ', '.join(f'`{v}`' for v in values)
  low, high = meta['lower'], meta['upper']
  if low is None and high is None:
    return ''
  low = '' if low is None else f'{low} <= '
  high = '' if high is None else f' <= {high}'
  return f'{low}x{high}'


def _cell(text: str) -> str:
  return text.replace('|', '\\|')


def markdown() -> str:
  """The whole reference: one table per config section, then --recipe."""
  lines = [
    '# Flag reference',
    '',
    'Generated from `ieg_tf/config.py` by `python -m ieg_tf.flag_reference`;',
    'do not edit. `python -m ieg_tf.main --help` prints the same. A',
    '(derived) default follows from other flags, as its text says.',
    '',
    '## Recipe',
    '',
    '| flag | default | values | meaning |',
    '|---|---|---|---|',
    f'| `--recipe` | `{recipes.DEFAULT}` | '
    + ', '.join(f'`{n}`' for n in recipes.RECIPES)
    + ' | named settings applied under the explicit flags '
    '(`ieg_tf/recipes.py`) |',
  ]
  for name, section in options.SECTIONS:
    lines += [
      '',
      f'## {_TITLES[name]}',
      '',
      '| flag | default | values | meaning |',
      '|---|---|---|---|',
    ]
    for field in dataclasses.fields(section):
      flag = options.flag_name(field)
      if flag == 'train_steps':
        flag = 'train_steps` (`--max_iteration'
      lines.append(
        f'| `--{flag}` | {_default_text(field)} | '
        f'{_cell(_values_text(field))} | {_cell(field.metadata["help"])} |'
      )
  return '\n'.join(lines) + '\n'


if __name__ == '__main__':
  print(markdown(), end='')
