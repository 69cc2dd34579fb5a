"""--mode=export: a SavedModel that serves class probabilities for uint8 images.

The exported `tf.Module` holds plain (not distributed) copies of the reported
weights -- the EMA shadows when EMA is on, as `eval/top1` reports them -- and
the BatchNorm moving statistics, and calls the Keras network functionally
(`stateless_call`, training=False). Preprocessing is the eval path's
(`views.eval_view`, i.e. `to_float`: x / 127.5 - 1), so a served image gets
exactly the logits evaluation computed.

Signatures of `<workdir>/saved_model/` (load with `tf.saved_model.load`):
  serving_default(images: uint8 [N, H, W, C]) ->
      {'probabilities': float32 [N, C], 'class_id': int32 [N]}
  class_names() -> {'class_names': string [C]}
The class names are also the asset `assets/class_names.txt` (one a line).
"""

import os
import tempfile

from absl import logging
import numpy as np
import tensorflow as tf

from ieg_tf.augment import views
from ieg_tf.errors import UserError
from ieg_tf.eval import precise_bn
from ieg_tf.runtime import trainer

EXPORT_DIR = 'saved_model'


class ServingModule(tf.Module):
  """Weights + the network's functional forward; saved with tf.saved_model."""

  def __init__(
    self,
    model,
    params,
    non_trainable,
    image_shape,
    class_names,
    class_names_file: str,
    step: int,
  ):
    """Args:
    model: the Keras network (used as a function; its variables are NOT
      saved: `params` and `non_trainable` replace them).
    params: arrays for `model.trainable_variables`, in order.
    non_trainable: arrays for `model.non_trainable_variables`, in order.
    image_shape: (H, W, C) the network was trained on.
    class_names: C names.
    class_names_file: a text file with the names, saved as an asset.
    step: training step of the exported weights.
    """
    super().__init__(name='ieg_tf_classifier')
    # A lambda keeps the Keras model out of the tracked (saved) objects.
    self._forward = lambda *a, **k: model.stateless_call(*a, **k)
    self.params = [
      tf.Variable(p, trainable=False, name=f'param_{i}')
      for i, p in enumerate(params)
    ]
    self.non_trainable = [
      tf.Variable(v, trainable=False, name=f'state_{i}')
      for i, v in enumerate(non_trainable)
    ]
    self.step = tf.Variable(int(step), dtype=tf.int64, trainable=False)
    self.class_names_asset = tf.saved_model.Asset(class_names_file)
    self._class_names = tf.constant(list(class_names), tf.string)
    height, width, channels = image_shape
    spec = tf.TensorSpec([None, height, width, channels], tf.uint8, 'images')
    self.serve = tf.function(self._serve, input_signature=[spec])
    self.names = tf.function(self._names, input_signature=[])

  def _serve(self, images):
    x = views.eval_view(images)  # Batched: eval_view is to_float here.
    logits, _ = self._forward(
      [tf.convert_to_tensor(p) for p in self.params],
      [tf.convert_to_tensor(v) for v in self.non_trainable],
      x,
      training=False,
    )
    probs = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
    return {
      'probabilities': probs,
      'class_id': tf.argmax(probs, axis=-1, output_type=tf.int32),
    }

  def _names(self):
    return {'class_names': tf.identity(self._class_names)}


def reported_weights(state, statistics=None) -> tuple[list, list]:
  """(trainable, non_trainable) numpy arrays of the reported model (host).

  EMA shadows when EMA is on, else the raw weights. BatchNorm statistics
  from `statistics` (`precise_bn`, refreshed by the caller: the ones
  re-estimated for these weights), else the stored moving averages (a
  cross-replica read of the ON_READ / MEAN statistics is their replica mean).
  """
  model = state.network.model
  statistics = statistics or precise_bn.MovingStatistics(model)
  if state.ema is not None:
    params = [np.asarray(s.numpy()) for s in state.ema.shadows]
  else:
    params = [np.asarray(v.numpy()) for v in model.trainable_variables]
  name = 'ema' if state.ema is not None else 'raw'
  return params, statistics.host_values(name)


def export_saved_model(
  state, image_shape, class_names, directory: str, statistics=None
) -> str:
  """Writes the SavedModel of `state`'s current weights to `directory`.

  Host context, outside any strategy scope (so the serving module's
  variables are plain ones). An existing directory is replaced.

  Args:
    state: `TrainState`.
    image_shape: (H, W, C) the signature accepts.
    class_names: C names, index = class id.
    directory: where to write.
    statistics: BN statistics (see `reported_weights`).

  Returns:
    `directory`.
  """
  params, non_trainable = reported_weights(state, statistics)
  with tempfile.TemporaryDirectory() as scratch:
    names_file = os.path.join(scratch, 'class_names.txt')
    with open(names_file, 'w') as f:
      f.write(''.join(f'{n}\n' for n in class_names))
    module = ServingModule(
      state.network.model,
      params,
      non_trainable,
      image_shape,
      class_names,
      names_file,
      state.step,
    )
    if tf.io.gfile.exists(directory):
      tf.io.gfile.rmtree(directory)
    tf.saved_model.save(
      module,
      directory,
      signatures={
        'serving_default': module.serve,
        'class_names': module.names,
      },
    )
  return directory


def run_export(cfg, strategy, data, state) -> dict:
  """--mode=export: restore the newest checkpoint and save the SavedModel.

  Args:
    cfg: the run's config.
    strategy: distribution strategy (only the chief writes).
    data: `PreparedData` (image shape, class names).
    state: `TrainState`.

  Returns:
    {'export/path', 'step'}.

  Raises:
    UserError: no checkpoint in the workdir.
  """
  if state.checkpointer.restore_latest() is None:
    raise UserError(
      f'--mode=export found no checkpoint in {state.checkpointer.directory}; '
      'train first (--mode=train) with the same --workdir.'
    )
  directory = os.path.join(cfg.run.workdir, EXPORT_DIR)
  # Every worker refreshes (its sums are collectives); the chief writes.
  statistics = precise_bn.for_run(
    cfg, strategy, data, state, data.training_split(cfg.method.method)
  )
  statistics.refresh()
  if trainer.is_chief(strategy):
    export_saved_model(
      state, data.image_shape, data.class_names, directory, statistics
    )
    logging.info(
      'Exported step %d (%s weights) to %s',
      state.step,
      'EMA' if state.ema is not None else 'raw',
      directory,
    )
  return {'export/path': directory, 'step': state.step}
