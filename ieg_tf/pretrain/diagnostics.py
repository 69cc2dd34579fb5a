"""C2D's two warm-up diagnostics of a (frozen) encoder, on the host.

(a) Linear probe: scikit-learn logistic regression on the encoder features of
    up to `max_examples` train examples, fitted to their CLEAN labels when
    the dataset knows them (synthetic noise), else to the labels as given;
    top-1 on the whole test split. Key 'pretrain/linear_probe_top1'; which
    labels were used is 'pretrain/linear_probe_labels' ('clean' / 'given').
(b) Loss separability (only when clean labels are known): a logistic
    regression fitted to the NOISY labels of the same examples, its
    per-example cross-entropy losses min-max normalized, a 2-component GMM
    on them (as DivideMix/C2D), and the ROC-AUC of the posterior of the
    low-loss component against is_clean = (label == clean_label). Key
    'pretrain/gmm_auc'; 0.5 = no separation, 1 = perfect.

`encoder_diagnostics` works on any encoder (before, after or without the
contrastive stage), e.g. to compare a random with a pre-trained one.
"""

import contextlib
import warnings

import numpy as np
import tensorflow as tf

from ieg_tf.data.prepare import PreparedData
from ieg_tf.data.split import Split
from ieg_tf.pretrain import input as input_lib

_MAX_ITER = 1000


def encode(strategy, encoder, split: Split, global_batch: int) -> np.ndarray:
  """Features of every row of `split` (host; encoder in inference mode).

  Args:
    strategy: the strategy the encoder lives in.
    encoder: Keras model, images -> features (BN uses moving statistics).
    split: examples to encode.
    global_batch: examples per step across replicas (a multiple of the
      replica count).

  Returns:
    float32 [len(split), D], row i the features of split row i.
  """
  dataset = strategy.distribute_datasets_from_function(
    input_lib.rows_dataset_fn(split, global_batch)
  )

  def replica_fn(batch):
    params = [
      tf.convert_to_tensor(v.value) for v in encoder.trainable_variables
    ]
    stats = [
      tf.convert_to_tensor(v.value) for v in encoder.non_trainable_variables
    ]
    feats, _ = encoder.stateless_call(
      params, stats, batch['image'], training=False
    )
    return feats, batch['index'], batch['mask']

  @tf.function
  def step(batch):
    return strategy.run(replica_fn, args=(batch,))

  out = None
  for batch in dataset:
    feats, index, mask = (
      np.concatenate(
        [t.numpy() for t in strategy.experimental_local_results(x)]
      )
      for x in step(batch)
    )
    if out is None:
      out = np.zeros((len(split), feats.shape[1]), np.float32)
    keep = mask > 0
    out[index[keep]] = feats[keep]
  return out


@contextlib.contextmanager
def _sklearn_quietly():
  """One BLAS / OpenMP thread, no convergence warnings.

  Their default thread pools beside TensorFlow's oversubscribe the CPU
  (measured 20-40x slower on 2 cores); one thread is fast at these sizes.
  A probe that has not fully converged is still a fine probe.
  """
  from sklearn.exceptions import ConvergenceWarning
  from threadpoolctl import threadpool_limits

  with threadpool_limits(limits=1), warnings.catch_warnings():
    warnings.simplefilter('ignore', category=ConvergenceWarning)
    yield


def _fit_logistic(x: np.ndarray, y: np.ndarray, seed: int):
  """Standardized features -> multinomial logistic regression (fitted)."""
  from sklearn.linear_model import LogisticRegression
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler

  clf = make_pipeline(
    StandardScaler(),
    LogisticRegression(max_iter=_MAX_ITER, random_state=seed),
  )
  return clf.fit(x, y)


def linear_probe_top1(train_x, train_y, test_x, test_y, seed: int = 0) -> float:
  """Top-1 on (test_x, test_y) of a logistic regression fitted on train."""
  if len(np.unique(train_y)) < 2:
    return float('nan')
  with _sklearn_quietly():
    clf = _fit_logistic(train_x, train_y, seed)
    return float(np.mean(clf.predict(test_x) == test_y))


def gmm_clean_posterior(losses: np.ndarray, seed: int = 0) -> np.ndarray:
  """P(low-loss component | loss) of a 2-component 1-D GMM (DivideMix).

  Args:
    losses: float [N] per-example losses, min-max normalized here.
    seed: GMM initialization seed.

  Returns:
    float64 [N] in [0, 1].
  """
  from sklearn.mixture import GaussianMixture

  x = np.asarray(losses, np.float64)
  span = x.max() - x.min()
  x = ((x - x.min()) / (span if span > 0 else 1.0))[:, None]
  gmm = GaussianMixture(
    n_components=2, max_iter=20, tol=1e-2, reg_covar=5e-4, random_state=seed
  )
  with _sklearn_quietly():
    gmm.fit(x)
    clean = int(np.argmin(gmm.means_[:, 0]))
    return gmm.predict_proba(x)[:, clean]


def gmm_auc(features, labels, clean_labels, seed: int = 0) -> float:
  """ROC-AUC of the GMM clean posterior of a noisy-label linear classifier.

  Args:
    features: float [N, D].
    labels: int [N] labels as given (noisy).
    clean_labels: int [N] true labels.
    seed: fit seed.

  Returns:
    The AUC, or NaN when the examples are all clean or all noisy (or only
    one label occurs).
  """
  from sklearn.metrics import roc_auc_score

  labels = np.asarray(labels)
  is_clean = labels == np.asarray(clean_labels)
  if is_clean.all() or not is_clean.any() or len(np.unique(labels)) < 2:
    return float('nan')
  with _sklearn_quietly():
    clf = _fit_logistic(features, labels, seed)
    probs = clf.predict_proba(features)
  column = np.searchsorted(clf.classes_, labels)
  losses = -np.log(np.clip(probs[np.arange(len(labels)), column], 1e-12, 1))
  return float(roc_auc_score(is_clean, gmm_clean_posterior(losses, seed)))


def encoder_diagnostics(
  strategy,
  encoder,
  data: PreparedData,
  *,
  max_examples: int,
  global_batch: int,
  seed: int,
) -> dict:
  """Linear probe and GMM AUC of `encoder` (host; see the module doc).

  Args:
    strategy: the strategy the encoder lives in.
    encoder: the feature extractor.
    data: prepared splits (train: labels + clean_labels; test).
    max_examples: train examples used (a seeded random subset); 0 = none.
    global_batch: feature-extraction batch across replicas.
    seed: subset and fit seed.

  Returns:
    {'pretrain/linear_probe_top1', 'pretrain/linear_probe_labels',
    'pretrain/linear_probe_examples'} plus 'pretrain/gmm_auc' when clean
    labels are known; {} when max_examples is 0 or a split is empty.
  """
  if max_examples <= 0 or not len(data.train) or not len(data.test):
    return {}
  train = input_lib.subset(data.train, max_examples, seed)
  train_x = encode(strategy, encoder, train, global_batch)
  test_x = encode(strategy, encoder, data.test, global_batch)
  known = train.clean_labels is not None
  probe_y = train.clean_labels if known else train.labels
  out = {
    'pretrain/linear_probe_top1': linear_probe_top1(
      train_x, probe_y, test_x, data.test.labels, seed
    ),
    'pretrain/linear_probe_labels': 'clean' if known else 'given',
    'pretrain/linear_probe_examples': len(train),
  }
  if known:
    out['pretrain/gmm_auc'] = gmm_auc(
      train_x, train.labels, train.clean_labels, seed
    )
  return out
