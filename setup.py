"""Installs ieg_tf: IEG meta re-weighting and contrastive init in TF2."""

import setuptools

_BASE = [
  'absl-py>=1.4',
  'numpy>=1.26',
  'scikit-learn>=1.3',
  'tensorboard>=2.20',
  'tensorflow-datasets>=4.9',
  # TFDS imports it at runtime but does not declare it on every version.
  'importlib_resources',
]

setuptools.setup(
  name='ieg_tf',
  version='0.1.0',
  description=(
    'Noise-robust image classification: IEG meta re-weighting and '
    're-labeling with contrastive pre-training, in TensorFlow 2.'
  ),
  packages=setuptools.find_packages(include=['ieg_tf', 'ieg_tf.*']),
  python_requires='>=3.10',
  install_requires=_BASE,
  extras_require={
    # TPU wheels stop at 2.20, CPU/GPU go on; Keras 3 comes with all of them.
    'cpu': ['tensorflow-cpu>=2.20'],
    'gpu': ['tensorflow[and-cuda]>=2.20'],
    'tpu': ['tensorflow-tpu>=2.20'],
    'test': ['pytest>=8', 'ruff>=0.6', 'matplotlib>=3.7'],
  },
  entry_points={'console_scripts': ['ieg_tf=ieg_tf.main:run']},
)
