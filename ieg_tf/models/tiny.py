"""`tiny`: a three-convolution CNN for tests and the digits / MNIST demo.

conv3x3(32)-BN-ReLU, conv3x3(64, stride 2)-BN-ReLU, conv3x3(128, stride 2)-
BN-ReLU, global average pool (128 features), then the registry's dense
classifier. About 94k parameters for 3 input channels; any image size >= 1x1
works (8x8 digits, 28x28 MNIST, 32x32 CIFAR).
"""

import keras

from ieg_tf.models import batch_norm

DEFAULT_WEIGHT_DECAY = 5e-4
DECAY_KERNELS_ONLY = False  # Decay every trainable variable.
WIDTHS = (32, 64, 128)
STRIDES = (1, 2, 2)
BN_MOMENTUM = 0.9


def build_encoder(image_shape: tuple[int, int, int]) -> keras.Model:
  """Builds the feature extractor.

  Args:
    image_shape: (H, W, C) of the float32 input images in [-1, 1].

  Returns:
    A built Keras model: float32 [B, H, W, C] -> features float32 [B, 128].
  """
  inputs = keras.Input(image_shape)
  x = inputs
  for i, (width, stride) in enumerate(zip(WIDTHS, STRIDES)):
    x = keras.layers.Conv2D(
      width,
      3,
      strides=stride,
      padding='same',
      use_bias=False,
      kernel_initializer='he_normal',
      name=f'conv{i}',
    )(x)
    x = batch_norm.BatchNorm(BN_MOMENTUM, name=f'bn{i}')(x)
    x = keras.layers.ReLU()(x)
  features = keras.layers.GlobalAveragePooling2D(name='pool')(x)
  return keras.Model(inputs, features, name='encoder')


def build_classifier(num_classes: int, feature_dim: int) -> keras.layers.Dense:
  """Dense(num_classes), Keras default init (Glorot-uniform kernel, 0 bias)."""
  del feature_dim  # The default init needs no fan-in.
  return keras.layers.Dense(num_classes, name='classifier')
