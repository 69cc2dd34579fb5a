"""`tiny` forward pass against a numpy re-computation from its weights."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.models import registry
from ieg_tf.models import tiny

EPS = 1e-5


def conv2d_same(x, kernel, stride):
  """TF 'SAME' convolution: out = ceil(in / stride), extra pad at the end."""
  batch, height, width, _ = x.shape
  k, _, c_in, c_out = kernel.shape
  out_h, out_w = -(-height // stride), -(-width // stride)
  pad_h = max((out_h - 1) * stride + k - height, 0)
  pad_w = max((out_w - 1) * stride + k - width, 0)
  x = np.pad(
    x,
    (
      (0, 0),
      (pad_h // 2, pad_h - pad_h // 2),
      (pad_w // 2, pad_w - pad_w // 2),
      (0, 0),
    ),
  )
  out = np.zeros((batch, out_h, out_w, c_out))
  for i in range(k):
    for j in range(k):
      patch = x[
        :, i : i + stride * out_h : stride, j : j + stride * out_w : stride
      ]
      out += np.einsum('bhwc,co->bhwo', patch, kernel[i, j])
  return out


def bn(x, gamma, beta, mean, var):
  return gamma * (x - mean) / np.sqrt(var + EPS) + beta


def numpy_forward(weights, x, training):
  """Returns (logits, [per-BN (batch mean, biased batch variance)])."""
  h = x.astype(np.float64)
  stats = []
  for i, stride in enumerate(tiny.STRIDES):
    h = conv2d_same(h, weights[f'conv{i}/kernel'], stride)
    g, b = weights[f'bn{i}/gamma'], weights[f'bn{i}/beta']
    mean, var = h.mean(axis=(0, 1, 2)), h.var(axis=(0, 1, 2))
    stats.append((mean, var))
    if not training:
      mean, var = (
        weights[f'bn{i}/moving_mean'],
        weights[f'bn{i}/moving_variance'],
      )
    h = np.maximum(bn(h, g, b, mean, var), 0.0)
  features = h.mean(axis=(1, 2))
  logits = features @ weights['classifier/kernel'] + weights['classifier/bias']
  return logits, stats


class TinyOracleTest(tf.test.TestCase, parameterized.TestCase):
  def _randomized(self, shape, classes, seed):
    """A tiny network whose every variable holds non-trivial values."""
    model = registry.build_network('tiny', classes, shape).model
    rng = np.random.default_rng(seed)
    for v in model.variables:
      if v.path.endswith('moving_variance'):
        value = rng.uniform(0.5, 2.0, v.shape)
      elif v.path.endswith('gamma'):
        value = rng.uniform(0.5, 1.5, v.shape)
      else:
        value = rng.normal(0.0, 0.3, v.shape)
      v.assign(value.astype(np.float32))
    weights = {v.path: v.numpy().astype(np.float64) for v in model.variables}
    x = rng.uniform(-1, 1, (3, *shape)).astype(np.float32)
    return model, weights, x

  @parameterized.named_parameters(
    ('digits_8x8', (8, 8, 3), 10), ('odd_7x7_gray', (7, 7, 1), 4)
  )
  def test_inference_matches_numpy(self, shape, classes):
    model, weights, x = self._randomized(shape, classes, seed=3)
    expected, _ = numpy_forward(weights, x, training=False)
    self.assertAllClose(
      model(x, training=False), expected, rtol=1e-4, atol=1e-4
    )
    logits, _ = model.stateless_call(
      [v.value for v in model.trainable_variables],
      [v.value for v in model.non_trainable_variables],
      x,
      training=False,
    )
    self.assertAllClose(logits, expected, rtol=1e-4, atol=1e-4)

  def test_training_pass_matches_numpy(self):
    model, weights, x = self._randomized((8, 8, 3), 5, seed=4)
    expected, stats = numpy_forward(weights, x, training=True)
    logits, new_nt = model.stateless_call(
      [v.value for v in model.trainable_variables],
      [v.value for v in model.non_trainable_variables],
      x,
      training=True,
    )
    self.assertAllClose(logits, expected, rtol=1e-4, atol=1e-4)
    # moving <- momentum * moving + (1 - momentum) * batch statistic, with
    # the biased batch variance.
    new = dict(zip([v.path for v in model.non_trainable_variables], new_nt))
    m = tiny.BN_MOMENTUM
    for i, (mean, var) in enumerate(stats):
      old_mean = weights[f'bn{i}/moving_mean']
      old_var = weights[f'bn{i}/moving_variance']
      self.assertAllClose(
        new[f'bn{i}/moving_mean'], m * old_mean + (1 - m) * mean, atol=1e-5
      )
      self.assertAllClose(
        new[f'bn{i}/moving_variance'], m * old_var + (1 - m) * var, atol=1e-5
      )


if __name__ == '__main__':
  tf.test.main()
