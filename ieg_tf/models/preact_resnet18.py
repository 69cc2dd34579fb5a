"""`preact_resnet18`: the 32-pixel PreAct ResNet-18 of DivideMix / C2D.

Stem conv3x3(64), then four stages of 2 pre-activation basic blocks (widths
64 / 128 / 256 / 512, strides 1 / 2 / 2 / 2). A block is
  a = ReLU(BN(x)); out = conv3x3(stride)(a) -> BN-ReLU -> conv3x3 + shortcut,
where the shortcut is x, or a 1x1 conv (stride) of `a` when the stride or the
width changes. Head: final BN-ReLU, global average pool, dense. ~11.17M
parameters.

DivideMix's own `PreResNet.py` differs in two places: its stem is
conv-BN-ReLU and it has NO final BN-ReLU before pooling (one BN of 64 instead
of one of 512 channels). This module follows the standard pre-activation
layout (He et al. 2016) with the final BN-ReLU, as the project brief asks.

Init follows PyTorch's defaults, which DivideMix and C2D train from: conv and
dense kernels U(+-1/sqrt(fan_in)), dense bias U(+-1/sqrt(fan_in)); BN momentum
0.9 (PyTorch's 0.1), eps 1e-5. Weight decay 5e-4 (DivideMix) on ALL trainable
variables.
"""

import math

import keras

from ieg_tf.models import batch_norm

DEFAULT_WEIGHT_DECAY = 5e-4
DECAY_KERNELS_ONLY = False  # Decay every trainable variable.
WIDTHS = (64, 128, 256, 512)
STRIDES = (1, 2, 2, 2)
BLOCKS_PER_STAGE = 2
BN_MOMENTUM = 0.9


def _torch_default_init():
  # PyTorch's kaiming_uniform_(a=sqrt(5)): bound 1/sqrt(fan_in), i.e.
  # uniform variance scaling with scale 1/3.
  return keras.initializers.VarianceScaling(1.0 / 3.0, 'fan_in', 'uniform')


def _conv(filters: int, kernel: int, stride: int, name: str):
  return keras.layers.Conv2D(
    filters,
    kernel,
    strides=stride,
    padding='same',
    use_bias=False,
    kernel_initializer=_torch_default_init(),
    name=name,
  )


def _bn_relu(x, name: str):
  x = batch_norm.BatchNorm(BN_MOMENTUM, name=name)(x)
  return keras.layers.ReLU()(x)


def _block(x, in_width: int, out_width: int, stride: int, name: str):
  a = _bn_relu(x, f'{name}_bn1')
  shortcut = x
  if stride != 1 or in_width != out_width:
    shortcut = _conv(out_width, 1, stride, f'{name}_shortcut')(a)
  y = _conv(out_width, 3, stride, f'{name}_conv1')(a)
  y = _bn_relu(y, f'{name}_bn2')
  y = _conv(out_width, 3, 1, f'{name}_conv2')(y)
  return keras.layers.Add()([shortcut, y])


def build_encoder(image_shape: tuple[int, int, int]) -> keras.Model:
  """Builds the feature extractor.

  Args:
    image_shape: (H, W, C) of the float32 input images in [-1, 1].

  Returns:
    A built Keras model: float32 [B, H, W, C] -> features float32 [B, 512].
  """
  inputs = keras.Input(image_shape)
  x = _conv(WIDTHS[0], 3, 1, 'stem_conv')(inputs)
  in_width = WIDTHS[0]
  for stage, (width, stride) in enumerate(zip(WIDTHS, STRIDES)):
    for i in range(BLOCKS_PER_STAGE):
      name = f'stage{stage}_block{i}'
      x = _block(x, in_width, width, stride if i == 0 else 1, name)
      in_width = width
  x = _bn_relu(x, 'final_bn')
  features = keras.layers.GlobalAveragePooling2D(name='pool')(x)
  return keras.Model(inputs, features, name='encoder')


def build_classifier(num_classes: int, feature_dim: int) -> keras.layers.Dense:
  """Dense(num_classes) with PyTorch's nn.Linear default init."""
  limit = 1.0 / math.sqrt(feature_dim)
  return keras.layers.Dense(
    num_classes,
    kernel_initializer=_torch_default_init(),
    bias_initializer=keras.initializers.RandomUniform(-limit, limit),
    name='classifier',
  )
