"""Named recipes: a method and its settings, one `--recipe=NAME` away.

A recipe is data: flag values applied before the Config is built, each one
only where the command line (or a `--flagfile`) does not set that flag, so an
explicit flag always wins. `ieg`, the default, changes nothing: the flags'
own defaults are IEG with re-labeling on evidence from a random init, what
measured best on the demo (docs/pipeline.md). `pipeline` adds the
contrastive stage before it. The others pin every setting that separates
them from the default, so a later change of a default does not change what
they run. docs/algorithm.md lists how `reference` differs from the default
IEG.
"""

import dataclasses
import types


@dataclasses.dataclass(frozen=True)
class Recipe:
  """One named recipe.

  Attributes:
    summary: one line for `--help`.
    flags: flag name -> value, in the flag's own type (or its string form).
  """

  summary: str
  flags: types.MappingProxyType


def _recipe(summary: str, **values) -> Recipe:
  return Recipe(summary=summary, flags=types.MappingProxyType(values))


# The IEG paper's step and settings: every noisy MixUp row at full weight
# from step 0 (no ramp), labels replaced where the meta-gradient
# says so, AutoAugment, the cosine-restart schedule from LR 0.1, the stored
# BatchNorm averages at eval, a random init.
_REFERENCE_IEG = dict(
  method='ieg',
  pretrain_epochs=0.0,
  pretrain_steps=0,
  unsup_rampup_steps=0,
  relabel_rule='reference',
  meta_weight_rule='reference',
  weight_source='meta',
  label_vote_neighbors=0,
  aug_type='autoaug',
  ce_factor=5.0,
  consistency_factor=20.0,
  grad_eps_init=0.9,
  meta_stepsize=0.1,
  meta_momentum=0.9,
  num_views=2,
  label_temperature=0.5,
  learning_rate=0.1,
  momentum=0.9,
  first_decay_steps=0,
  cos_t_mul=1.5,
  cos_m_mul=0.9,
  warmup_steps=0,
  ema_decay=0.999,
  precise_bn_batches=0,
)

# Length of the contrastive stage of the pipeline recipes, in epochs of the
# train split (docs/pipeline.md).
PIPELINE_EPOCHS = 100.0

RECIPES = types.MappingProxyType(
  {
    'ieg': _recipe(
      'IEG with re-labeling on evidence from a random init (the defaults)'
    ),
    'pipeline': _recipe(
      f'a contrastive encoder on the train images ({PIPELINE_EPOCHS:g} '
      'epochs), then IEG with re-labeling on evidence',
      method='ieg',
      pretrain_epochs=PIPELINE_EPOCHS,
    ),
    'reference': _recipe(
      "the IEG paper's method and schedule from a random init",
      **_REFERENCE_IEG,
    ),
    'supervised': _recipe(
      'cross-entropy on the given labels from a random init',
      method='supervised',
      pretrain_epochs=0.0,
      pretrain_steps=0,
    ),
    'supervised_c2d': _recipe(
      'cross-entropy on the given labels from the contrastive encoder '
      f'({PIPELINE_EPOCHS:g} epochs)',
      method='supervised',
      pretrain_epochs=PIPELINE_EPOCHS,
    ),
    'gce': _recipe(
      'generalized cross-entropy (a robust loss) from a random init',
      method='gce',
      pretrain_epochs=0.0,
      pretrain_steps=0,
    ),
    'probe_only': _recipe(
      'cross-entropy on the clean probe alone, from a random init (what the '
      'noisy data adds)',
      method='probe_only',
      pretrain_epochs=0.0,
      pretrain_steps=0,
    ),
    'l2r': _recipe(
      'learning to re-weight (Ren et al.) from a random init',
      method='l2r',
      pretrain_epochs=0.0,
      pretrain_steps=0,
      meta_weight_rule='reference',
      weight_source='meta',
    ),
    'mwnet': _recipe(
      'Meta-Weight-Net (Shu et al.) from a random init',
      method='mwnet',
      pretrain_epochs=0.0,
      pretrain_steps=0,
    ),
  }
)

DEFAULT = 'ieg'


def help_text() -> str:
  """The `--recipe` help: every recipe with its summary."""
  listed = '; '.join(f'{name}: {r.summary}' for name, r in RECIPES.items())
  return (
    'Named settings applied under the explicit flags (an explicit flag '
    f'wins). {listed}.'
  )
