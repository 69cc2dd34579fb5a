"""IEG's neighbor-vote label prior (`--label_vote_neighbors`), on the host.

Once the encoder is initialized (contrastive stage or --init_checkpoint) and
before the first train step:
  1. encode every train and probe image (eval view, BN moving statistics);
  2. each train image gets the vote of its K nearest train images' GIVEN
     labels (itself excluded), each probe image the vote of its K nearest
     train images (`neighbor_vote.neighbor_votes`);
  3. a uniform share and a temperature are fitted on the probe's CLEAN
     labels and applied to the train votes (`neighbor_vote.fit_calibration`);
  4. the given label is added as evidence (`given_label_posterior`), with
     the share of right labels estimated from how often the vote agrees
     with them and the vote's probe accuracy (`estimate_label_accuracy`);
  5. the result is saved as <workdir>/label_prior.npz (ids, the given labels,
     K, prior, temperature, uniform share) and attached to the train split as its 'label_prior'
     column, so every train batch carries float32 [B, C] 'label_prior'.

A resumed run (a training checkpoint exists) no longer has the initial
encoder, so it reads the saved file instead. Why the prior helps: docs/contrastive.md
"Neighbor votes".
"""

import dataclasses
import io
import os

from absl import logging
import numpy as np
import tensorflow as tf

from ieg_tf.data.prepare import PreparedData
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError
from ieg_tf.pretrain import diagnostics
from ieg_tf.meta import neighbor_vote
from ieg_tf.runtime import summaries
from ieg_tf.runtime.trainer import is_chief

FILE_NAME = 'label_prior.npz'


def vote_diagnostics(
  train_votes: np.ndarray,
  prior: np.ndarray,
  split: Split,
  probe_votes: np.ndarray,
  probe_labels: np.ndarray,
  calibration: tuple,
) -> dict:
  """How good the prior is (host; logged and written to metrics.jsonl).

  Returns:
    {'label_vote/temperature', 'label_vote/uniform_share' (the fitted
    calibration), 'label_vote/probe_top1', 'label_vote/probe_nll'
    (calibrated), 'label_vote/probe_nll_raw'} plus,
    when the split's clean labels are known, 'label_vote/train_top1' (vote
    argmax == clean label), 'label_vote/given_top1' (given == clean) and
    'label_vote/clean_auc' (ROC-AUC of prior[given label] for given ==
    clean) and 'label_vote/prior_top1' (prior argmax == clean label).
    `compute_prior` adds 'label_vote/given_top1_estimate'.
  """
  out = {
    'label_vote/temperature': calibration[0],
    'label_vote/uniform_share': calibration[1],
    'label_vote/probe_top1': float(
      np.mean(probe_votes.argmax(1) == probe_labels)
    ),
    'label_vote/probe_nll': neighbor_vote.mean_nll(
      neighbor_vote.calibrate(probe_votes, *calibration), probe_labels
    ),
    'label_vote/probe_nll_raw': neighbor_vote.mean_nll(
      probe_votes, probe_labels
    ),
  }
  clean = split.clean_labels
  if clean is not None:
    from sklearn.metrics import roc_auc_score

    is_clean = split.labels == clean
    out['label_vote/train_top1'] = float(
      np.mean(train_votes.argmax(1) == clean)
    )
    out['label_vote/given_top1'] = float(np.mean(is_clean))
    out['label_vote/prior_top1'] = float(np.mean(prior.argmax(1) == clean))
    if 0 < is_clean.sum() < len(is_clean):
      score = prior[np.arange(len(split)), split.labels]
      out['label_vote/clean_auc'] = float(roc_auc_score(is_clean, score))
  return out


def compute_prior(
  strategy, encoder, data: PreparedData, split: Split, k: int, batch: int
):
  """Steps 1-4 of the module docstring.

  Args:
    strategy: the strategy the encoder lives in.
    encoder: Keras feature extractor.
    data: prepared splits (its probe supplies the calibration labels).
    split: the train split to vote for.
    k: neighbors per image.
    batch: global feature-extraction batch.

  Returns:
    (prior float32 [N, C], diagnostics dict).

  Raises:
    UserError: an empty probe (nothing to calibrate on) or train split.
  """
  if not len(data.probe) or len(split) < 2:
    raise UserError(
      '--label_vote_neighbors needs a clean probe (--probe_per_class > 0) '
      'and at least 2 train examples.'
    )
  train_x = diagnostics.encode(strategy, encoder, split, batch)
  probe_x = diagnostics.encode(strategy, encoder, data.probe, batch)
  c = data.num_classes
  train_votes = neighbor_vote.neighbor_votes(
    train_x, train_x, split.labels, c, k, exclude_self=True
  )
  probe_votes = neighbor_vote.neighbor_votes(
    probe_x, train_x, split.labels, c, k, exclude_self=False
  )
  calibration = neighbor_vote.fit_calibration(probe_votes, data.probe.labels)
  vote = neighbor_vote.calibrate(train_votes, *calibration)
  label_accuracy = neighbor_vote.estimate_label_accuracy(
    agreement=float(np.mean(vote.argmax(1) == split.labels)),
    vote_accuracy=float(np.mean(probe_votes.argmax(1) == data.probe.labels)),
    num_classes=c,
  )
  prior = neighbor_vote.given_label_posterior(
    vote, split.labels, label_accuracy
  )
  diag = vote_diagnostics(
    train_votes, prior, split, probe_votes, data.probe.labels, calibration
  )
  diag['label_vote/given_top1_estimate'] = label_accuracy
  return prior, diag


def save(path: str, split: Split, k: int, prior: np.ndarray, diag: dict):
  """Writes the prior atomically (tmp file + rename; local or gs://)."""
  buf = io.BytesIO()
  np.savez(
    buf,
    ids=split.ids,
    labels=split.labels,
    k=k,
    prior=prior,
    temperature=diag['label_vote/temperature'],
    uniform_share=diag['label_vote/uniform_share'],
  )
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'wb') as f:
    f.write(buf.getvalue())
  tf.io.gfile.rename(tmp, path, overwrite=True)


def load(path: str, split: Split, k: int, num_classes: int) -> np.ndarray:
  """The saved prior, checked against this run's examples, labels and K.

  Why the labels and K too: the prior depends on them (the vote counts the
  given labels, and the posterior adds each example's own), so a resume with
  other noisy labels or another --label_vote_neighbors must not reuse it.

  Raises:
    UserError: missing, unreadable, or saved for another set-up.
  """
  if not tf.io.gfile.exists(path):
    raise UserError(
      f'the run resumes with --label_vote_neighbors but {path} is missing; '
      'it is written before the first step. Start in a new --workdir.'
    )
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      saved = np.load(io.BytesIO(f.read()))
      ids, labels, saved_k = saved['ids'], saved['labels'], int(saved['k'])
      prior = saved['prior']
  except (OSError, ValueError, KeyError) as e:
    raise UserError(f'cannot read {path}: {e}') from None
  same = (
    np.array_equal(ids, split.ids)
    and np.array_equal(labels, split.labels)
    and prior.shape == (len(split), num_classes)
  )
  if not same or saved_k != k:
    raise UserError(
      f'{path} was saved for other train examples, labels, classes or '
      f'--label_vote_neighbors (saved K={saved_k}) than this run has; start '
      'in a new --workdir.'
    )
  return prior


def attach(cfg, strategy, data: PreparedData, state, split: Split) -> Split:
  """The train split with its 'label_prior' column (see the module doc).

  Args:
    cfg: the run's config (--label_vote_neighbors > 0).
    strategy: distribution strategy.
    data: prepared splits.
    state: `ieg_tf.runtime.trainer.TrainState`, its encoder already
      initialized (call after `stage.maybe_initialize`).
    split: the train split.

  Returns:
    `split` with `label_prior` set.
  """
  path = os.path.join(cfg.run.workdir, FILE_NAME)
  if state.checkpointer.latest:
    prior = load(path, split, cfg.ieg.label_vote_neighbors, data.num_classes)
    logging.info('Neighbor-vote label prior read from %s', path)
  else:
    batch = cfg.run.eval_batch_size or cfg.run.batch_size
    prior, diag = compute_prior(
      strategy,
      state.network.encoder,
      data,
      split,
      cfg.ieg.label_vote_neighbors,
      batch,
    )
    logging.info('neighbor-vote label prior: %s', diag)
    if is_chief(strategy):
      save(path, split, cfg.ieg.label_vote_neighbors, prior, diag)
      writer = summaries.MetricsWriter(cfg.run.workdir, True)
      writer.write(0, diag)
      writer.close()
  return dataclasses.replace(split, label_prior=prior)
