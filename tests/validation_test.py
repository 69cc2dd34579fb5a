"""validation.validate: the checks of a Config across settings."""

import dataclasses

import tensorflow as tf

from ieg_tf import config
from ieg_tf.errors import UserError
from ieg_tf.validation import validate


def _cfg(method=None, run=None, pretrain=None, data=None):
  """The default config with fields replaced (method: by flag name)."""
  base = config.replace_fields(config.default_config(), **(method or {}))
  return dataclasses.replace(
    base,
    run=dataclasses.replace(base.run, **(run or {})),
    pretrain=dataclasses.replace(base.pretrain, **(pretrain or {})),
    data=dataclasses.replace(base.data, **(data or {})),
  )


class ValidateTest(tf.test.TestCase):
  def test_the_defaults_run_on_one_and_four_replicas(self):
    validate(_cfg(), 1)
    validate(_cfg(), 4)

  def test_meta_methods_need_a_probe(self):
    for method in ('ieg', 'l2r', 'mwnet', 'probe_only'):
      cfg = _cfg(
        method={'method': config.Method(method)}, data={'probe_per_class': 0}
      )
      with self.assertRaisesRegex(UserError, f'--method={method} needs a'):
        validate(cfg, 1)
    validate(
      _cfg(
        data={'probe_per_class': 0, 'probe_hold_ratio': 0.02},
      ),
      1,
    )
    validate(
      _cfg(
        method={'method': config.Method.SUPERVISED},
        data={'probe_per_class': 0},
      ),
      1,
    )

  def test_batches_divide_over_the_replicas(self):
    with self.assertRaisesRegex(UserError, '--batch_size=100 is not div'):
      validate(_cfg(), 3)
    cfg = _cfg(run={'batch_size': 96, 'eval_batch_size': 100})
    with self.assertRaisesRegex(UserError, '--eval_batch_size=100'):
      validate(cfg, 8)
    staged = _cfg(
      run={'batch_size': 96, 'eval_batch_size': 96},
      pretrain={'pretrain_epochs': 1.0, 'batch_size': 100},
    )
    with self.assertRaisesRegex(UserError, '--pretrain_batch_size'):
      validate(staged, 8)
    # The stage does not run: its batch does not matter.
    given = dataclasses.replace(
      staged, run=dataclasses.replace(staged.run, init_checkpoint='/enc')
    )
    validate(given, 8)
    evaluate = dataclasses.replace(
      staged, run=dataclasses.replace(staged.run, mode=config.Mode.EVAL)
    )
    validate(evaluate, 8)

  def test_mode_pretrain_needs_steps(self):
    cfg = _cfg(run={'mode': config.Mode.PRETRAIN})
    with self.assertRaisesRegex(UserError, '--mode=pretrain needs'):
      validate(cfg, 1)
    validate(
      _cfg(run={'mode': config.Mode.PRETRAIN}, pretrain={'pretrain_steps': 3}),
      1,
    )

  def test_votes_need_ieg(self):
    cfg = _cfg(
      method={'method': config.Method.L2R, 'label_vote_neighbors': 5},
      run={'init_checkpoint': '/enc'},
    )
    with self.assertRaisesRegex(UserError, '--method=ieg, not --method=l2r'):
      validate(cfg, 1)

  def test_votes_need_an_encoder(self):
    cfg = _cfg(method={'label_vote_neighbors': 5})
    with self.assertRaisesRegex(UserError, '--init_checkpoint'):
      validate(cfg, 1)
    validate(
      dataclasses.replace(
        cfg, pretrain=_cfg(pretrain={'pretrain_epochs': 2.0}).pretrain
      ),
      1,
    )
    validate(
      dataclasses.replace(
        cfg, pretrain=_cfg(pretrain={'pretrain_steps': 3}).pretrain
      ),
      1,
    )
    validate(
      dataclasses.replace(cfg, run=_cfg(run={'init_checkpoint': '/enc'}).run), 1
    )
    # Outside training the votes are not computed: nothing to check.
    validate(
      dataclasses.replace(cfg, run=_cfg(run={'mode': config.Mode.EVAL}).run), 1
    )

  def test_vote_weights_need_the_vote(self):
    with self.assertRaisesRegex(UserError, '--label_vote_neighbors=K > 0'):
      validate(_cfg(method={'weight_source': config.WeightSource.VOTE}), 1)
    validate(
      _cfg(
        method={'label_vote_neighbors': 5, 'weight_source': 'vote'},
        run={'init_checkpoint': '/enc'},
      ),
      1,
    )

  def test_weight_source_needs_a_reweighting_method(self):
    for method in (
      config.Method.SUPERVISED,
      config.Method.GCE,
      config.Method.MWNET,
    ):
      cfg = _cfg(method={'method': method, 'weight_source': 'network'})
      with self.assertRaisesRegex(UserError, 'use --weight_source=meta'):
        validate(cfg, 1)
    validate(
      _cfg(method={'method': config.Method.L2R, 'weight_source': 'network'}), 1
    )


if __name__ == '__main__':
  tf.test.main()
