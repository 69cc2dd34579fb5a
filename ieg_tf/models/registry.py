"""Network registry: name -> built classifier, its encoder and its decay mask.

Every network is an `encoder` (images -> features) followed by ONE dense
layer named 'classifier', so a contrastive stage can pre-train the encoder
and the classifier starts fresh. `model` and `encoder` share their layers and
variables; `model.layers[-1]` is the classifier.

How the rest of the project calls a model (replica context):
  logits, new_non_trainable = model.stateless_call(
      trainable_values, non_trainable_values, images, training=True)
`stateless_call` never writes a variable: BN moving statistics change only
when the caller assigns `new_non_trainable` back (IEG: only the weak-view
pass). `training=True` normalizes with the batch's statistics,
`training=False` with the moving ones. Under a tf.distribute strategy, build
the network inside `strategy.scope()`; BN moving statistics are then
replica-local ON_READ variables (see `batch_norm.py`).
"""

import dataclasses
import math
import numbers
import types

import keras

from ieg_tf.errors import UserError
from ieg_tf.models import preact_resnet18
from ieg_tf.models import resnet29
from ieg_tf.models import resnet50
from ieg_tf.models import tiny
from ieg_tf.models import wrn

_MODULES: dict[str, types.ModuleType] = {
  'tiny': tiny,
  'resnet29': resnet29,
  'wrn28-10': wrn,
  'preact_resnet18': preact_resnet18,
  'resnet50': resnet50,
}
NETWORK_NAMES = tuple(_MODULES)


@dataclasses.dataclass(frozen=True)
class Network:
  """A built classifier and what training needs to know about it.

  Attributes:
    model: float32 [B, H, W, C] images in [-1, 1] -> float32 [B, num_classes]
      logits; `encoder` then the dense layer 'classifier' (the last layer).
    encoder: the same input -> float32 [B, feature_dim] features; shares its
      layers and variables with `model`.
    feature_dim: width of the encoder's output.
    weight_decay: coefficient wd of the explicit loss wd * sum 0.5 * ||v||^2.
    decay_mask: one bool per `model.trainable_variables`, in that order: True
      where the variable is decayed.
  """

  model: keras.Model
  encoder: keras.Model
  feature_dim: int
  weight_decay: float
  decay_mask: tuple[bool, ...]


def _is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_args(name, num_classes, image_shape, weight_decay):
  if name not in _MODULES:
    raise UserError(
      f'Unknown network {name!r}: --network_name must be one of '
      f'{", ".join(NETWORK_NAMES)}.'
    )
  if not _is_int(num_classes) or num_classes < 1:
    raise UserError(f'num_classes must be an integer >= 1: {num_classes!r}.')
  shape = tuple(image_shape)
  if len(shape) != 3 or not all(_is_int(d) and d >= 1 for d in shape):
    raise UserError(
      f'Image shape must be three positive integers (height, width, '
      f'channels), got {image_shape!r}; check the dataset or --image_size.'
    )
  if not math.isfinite(weight_decay):
    raise UserError(f'Weight decay must be a finite number: {weight_decay}.')


def _all_layers(layer: keras.layers.Layer):
  """The layer and, recursively, every layer inside it."""
  yield layer
  for sub in getattr(layer, 'layers', ()):
    yield from _all_layers(sub)


def _kernel_mask(model: keras.Model) -> tuple[bool, ...]:
  """True for conv and dense kernels, False for biases and BN parameters."""
  kernels = set()
  for layer in _all_layers(model):
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
      kernels.add(id(layer.kernel))
  return tuple(id(v) in kernels for v in model.trainable_variables)


def build_network(
  name: str,
  num_classes: int,
  image_shape: tuple[int, int, int],
  *,
  weight_decay: float = -1.0,
) -> Network:
  """Builds a network with its variables (host; under the strategy's scope).

  Args:
    name: one of NETWORK_NAMES.
    num_classes: classifier width C.
    image_shape: (H, W, C) of the float32 input images. Every network
      accepts any side >= 1 (big networks just pool down to 1x1).
    weight_decay: coefficient of wd * sum 0.5 * ||v||^2; < 0 selects the
      network's published default.

  Returns:
    The built `Network`.

  Raises:
    UserError: unknown name, bad `num_classes` / `image_shape` / decay.
  """
  _check_args(name, num_classes, image_shape, weight_decay)
  module = _MODULES[name]
  num_classes = int(num_classes)
  image_shape = tuple(int(d) for d in image_shape)
  encoder = module.build_encoder(image_shape)
  feature_dim = int(encoder.outputs[0].shape[-1])
  classifier = module.build_classifier(num_classes, feature_dim)
  inputs = keras.Input(image_shape, name='image')
  logits = classifier(encoder(inputs))
  model = keras.Model(inputs, logits, name=name.replace('-', '_'))
  if module.DECAY_KERNELS_ONLY:
    decay_mask = _kernel_mask(model)
  else:
    decay_mask = (True,) * len(model.trainable_variables)
  if weight_decay < 0:
    weight_decay = module.DEFAULT_WEIGHT_DECAY
  return Network(
    model=model,
    encoder=encoder,
    feature_dim=feature_dim,
    weight_decay=float(weight_decay),
    decay_mask=decay_mask,
  )
