"""The network the contrastive stage trains: encoder -> projection head.

The encoder is the SAME Keras model (same variables) as
`Network.encoder`, so whatever the stage learns is what the classifier
`Network.model` starts from; the projection head exists only here.
"""

import dataclasses

import keras

from ieg_tf.models import projection_head
from ieg_tf.models.registry import Network


@dataclasses.dataclass(frozen=True)
class ContrastiveModel:
  """Encoder + projection head and what LARS needs to know about them.

  Attributes:
    model: float32 [B, H, W, C] images in [-1, 1] -> float32 [B, proj_dim]
      projections; its variables are the encoder's then the head's.
    encoder: `Network.encoder` (shared with the classifier).
    head: the projection head (never part of the classifier).
    adapt_mask: one bool per `model.trainable_variables`: True for conv and
      dense kernels (LARS trust ratio and weight decay), False for BN
      parameters and biases.
  """

  model: keras.Model
  encoder: keras.Model
  head: keras.Model
  adapt_mask: tuple[bool, ...]


def _all_layers(layer):
  yield layer
  for sub in getattr(layer, 'layers', ()):
    yield from _all_layers(sub)


def kernel_mask(model: keras.Model) -> tuple[bool, ...]:
  """True for the kernels of conv / dense layers, by layer type.

  SimCLR excluded BN and biases by matching variable names, which silently
  breaks when Keras renames variables; layer types do not change.

  Args:
    model: any Keras model.

  Returns:
    One bool per `model.trainable_variables`.
  """
  kernels = set()
  for layer in _all_layers(model):
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
      kernels.add(id(layer.kernel))
  return tuple(id(v) in kernels for v in model.trainable_variables)


def build_contrastive_model(
  network: Network, image_shape, num_layers: int, out_dim: int
) -> ContrastiveModel:
  """Puts a fresh projection head on `network.encoder` (host, in scope).

  Args:
    network: from `registry.build_network`.
    image_shape: (H, W, C) of the views.
    num_layers: projection head layers.
    out_dim: projection width.

  Returns:
    The ContrastiveModel.
  """
  head = projection_head.build_projection_head(
    network.feature_dim, num_layers, out_dim
  )
  inputs = keras.Input(tuple(image_shape), name='view')
  model = keras.Model(inputs, head(network.encoder(inputs)), name='contrastive')
  return ContrastiveModel(
    model=model,
    encoder=network.encoder,
    head=head,
    adapt_mask=kernel_mask(model),
  )
