"""Small synthetic data and configs for the contrastive-stage tests."""

import dataclasses

import numpy as np

from ieg_tf import config
from ieg_tf.data.prepare import PreparedData
from ieg_tf.data.split import Split


def split(n: int, seed: int, *, clean: bool = True, channels: int = 1):
  """n random 8x8 images, 3 classes; about half the labels noisy."""
  rng = np.random.default_rng(seed)
  clean_labels = rng.integers(0, 3, n)
  labels = np.where(rng.random(n) < 0.5, rng.integers(0, 3, n), clean_labels)
  return Split(
    labels=labels,
    ids=np.arange(n) + 1000 * seed,
    images=rng.integers(0, 256, (n, 8, 8, channels), dtype=np.uint8),
    clean_labels=clean_labels if clean else None,
  )


def data(*, clean: bool = True, channels: int = 1) -> PreparedData:
  train = split(64, 1, clean=clean, channels=channels)
  test = split(24, 2, channels=channels)
  test = test.with_labels(test.clean_labels, None)
  return PreparedData(
    name='synthetic',
    num_classes=3,
    class_names=('a', 'b', 'c'),
    train=train,
    probe=train.take(np.arange(0)),
    test=test,
    image_shape=(8, 8, channels),
  )


def cfg(workdir: str, pretrain_steps: int, **pretrain) -> config.Config:
  """A small run; the stage is exactly `pretrain_steps` (0 = no stage).

  `pretrain_epochs` is 0 unless given in `pretrain`, so 0 steps means no
  stage rather than the default's epochs.
  """
  base = config.default_config()
  run = dataclasses.replace(
    base.run,
    workdir=workdir,
    batch_size=8,
    eval_batch_size=8,
    steps_per_loop=2,
    log_every_steps=2,
    eval_every_steps=2,
    train_steps=4,
  )
  fields = dict(
    pretrain_epochs=0.0,
    pretrain_steps=pretrain_steps,
    batch_size=8,
    proj_dim=8,
    linear_probe_examples=0,
  )
  fields.update(pretrain)
  p = dataclasses.replace(base.pretrain, **fields)
  return dataclasses.replace(base, run=run, pretrain=p)
