"""SimCLR projection head: the MLP between encoder features and NT-Xent.

Only the contrastive stage uses it; it is never part of the classifier
(`registry.Network.model`), so dropping it after pre-training is just not
using it. Layout as SimCLR (simclr/tf2 `ProjectionHead`, "nonlinear"):
every layer is Dense (no bias: the BN after it has the shift) + BN; hidden
layers keep the input width, have a BN shift (beta) and a ReLU; the last
layer maps to `out_dim`, its BN has no beta and there is no ReLU. Dense
kernels start from N(0, 0.01^2). BN is the project's replica-local BN
(`batch_norm.BatchNorm`), so the head also works under MirroredStrategy.
"""

import keras

from ieg_tf.models import batch_norm

BN_MOMENTUM = 0.9
KERNEL_STDDEV = 0.01


def build_projection_head(
  feature_dim: int, num_layers: int = 2, out_dim: int = 128
) -> keras.Model:
  """Builds the head (host; under the strategy's scope).

  Args:
    feature_dim: width D of the encoder output (and of the hidden layers).
    num_layers: Dense+BN layers (>= 1); SimCLRv1 used 2, v2 3.
    out_dim: width of the projection fed to the contrastive loss.

  Returns:
    A built Keras model: float32 [B, D] -> float32 [B, out_dim].

  Raises:
    ValueError: num_layers < 1 or a width < 1.
  """
  if num_layers < 1 or feature_dim < 1 or out_dim < 1:
    raise ValueError(
      f'projection head needs layers, widths >= 1: {num_layers=}, '
      f'{feature_dim=}, {out_dim=}'
    )
  inputs = keras.Input((feature_dim,), name='features')
  x = inputs
  for i in range(num_layers):
    last = i == num_layers - 1
    x = keras.layers.Dense(
      out_dim if last else feature_dim,
      use_bias=False,
      kernel_initializer=keras.initializers.RandomNormal(stddev=KERNEL_STDDEV),
      name=f'proj_dense{i}',
    )(x)
    x = batch_norm.BatchNorm(BN_MOMENTUM, center=not last, name=f'proj_bn{i}')(
      x
    )
    if not last:
      x = keras.layers.ReLU(name=f'proj_relu{i}')(x)
  return keras.Model(inputs, x, name='projection_head')
