"""--init_checkpoint: load only the encoder weights from a saved checkpoint.

Two checkpoint layouts hold an encoder:
- a contrastive-stage checkpoint (<workdir>/pretrain/checkpoints/ckpt-N):
  the encoder is the top-level object 'encoder' (beside 'head' and
  'optimizer', which are ignored);
- a training checkpoint (<workdir>/checkpoints/ckpt-N): the encoder is a
  layer of 'model'; the classifier, optimizer and EMA are ignored, so a run
  with another number of classes can start from it.
The encoder's trainable weights and BatchNorm statistics are restored (C2D
keeps the BN statistics of the pre-trained encoder).
"""

import os

import tensorflow as tf

from ieg_tf.errors import UserError
from ieg_tf.models.registry import Network


def resolve(path: str) -> str:
  """A checkpoint prefix from a prefix or a directory (host).

  Directories are searched in this order: the directory itself,
  <dir>/checkpoints (a training workdir or a pretrain dir) and
  <dir>/pretrain/checkpoints (a pretrain-only workdir).

  Raises:
    UserError: no checkpoint there.
  """
  if tf.io.gfile.isdir(path):
    for candidate in (
      path,
      os.path.join(path, 'checkpoints'),
      os.path.join(path, 'pretrain', 'checkpoints'),
    ):
      latest = tf.train.latest_checkpoint(candidate)
      if latest:
        return latest
    raise UserError(
      f'--init_checkpoint={path} is a directory without checkpoints; give a '
      'workdir, its pretrain/ or checkpoints/ folder, or a ckpt-N prefix.'
    )
  if not tf.io.gfile.glob(path + '.index'):
    raise UserError(
      f'--init_checkpoint={path} does not exist (no {path}.index); give a '
      'workdir, a checkpoints/ folder or a ckpt-N prefix.'
    )
  return path


def _root_for(names: set, network: Network):
  """A tf.train.Checkpoint whose object path reaches `network.encoder`."""
  if any(n.startswith('encoder/') for n in names):
    return tf.train.Checkpoint(encoder=network.encoder)
  if any(n.startswith('model/') for n in names):
    # Keras 3 tracks a functional model's layers as `_operations/<i>`,
    # i = position in `model.layers`; stand-ins keep the other positions.
    position = network.model.layers.index(network.encoder)
    holder = tf.Module()
    holder._operations = [tf.Module() for _ in range(position)] + [
      network.encoder
    ]
    return tf.train.Checkpoint(model=holder)
  return None


def load_encoder(path: str, network: Network) -> str:
  """Restores `network.encoder` from a checkpoint (host, eager).

  Args:
    path: checkpoint prefix or directory (see `resolve`).
    network: the network whose encoder is overwritten; the classifier and
      everything else keep their values.

  Returns:
    The checkpoint prefix read.

  Raises:
    UserError: no checkpoint, or it holds no encoder of this network's
      shape.
  """
  prefix = resolve(path)
  try:
    names = {n for n, _ in tf.train.list_variables(prefix)}
  except (tf.errors.OpError, ValueError) as e:
    raise UserError(f'cannot read --init_checkpoint {prefix}: {e}') from None
  root = _root_for(names, network)
  if root is None:
    raise UserError(
      f'--init_checkpoint {prefix} holds no encoder (neither a pretrain nor '
      'a training checkpoint of ieg_tf).'
    )
  try:
    status = root.restore(prefix)
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError, tf.errors.OpError) as e:
    first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    raise UserError(
      f'--init_checkpoint {prefix} does not match --network_name / image '
      f'size of this run ({first[:200]}); use a checkpoint of the same '
      'network.'
    ) from None
  status.expect_partial()
  return prefix
