"""Command line of scripts/prepare_<dataset>.py: owners' layout -> TFRecords.

Reads a real-noise dataset from its owners' layout exactly as training
does, and writes every split as sharded TFRecords with an index
(record_format.py) that `--data_dir` can then point at, locally or on gs://.
Re-running the same command resumes: finished shards are kept.

Usage (each script passes its dataset name):
  python scripts/prepare_webvision_mini.py --data_dir=/data/webvision \
    --imagenet_dir=/data/ILSVRC2012 --output_dir=gs://bucket/webvision_mini
"""

import argparse
import sys

import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import record_format
from ieg_tf.data import record_writer
from ieg_tf.data.sources import registry
from ieg_tf.errors import UserError

EXIT_USER_ERROR = 2


def _parser(dataset: str) -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
    prog=f'prepare_{dataset}.py',
    description=f'Convert {dataset} to sharded TFRecords (resumable).',
  )
  parser.add_argument('--data_dir', required=True, help='the original layout')
  parser.add_argument(
    '--output_dir', required=True, help='converted folder (local or gs://)'
  )
  if dataset == 'webvision_mini':
    parser.add_argument(
      '--imagenet_dir',
      default='',
      help='ILSVRC2012 folder: val/<wnid>/ (second test set) and train/ '
      '(probe pool)',
    )
  if dataset in ('cifar10n', 'cifar100n'):
    parser.add_argument(
      '--cifarn_labels',
      default='',
      help='label set to store (default: worst / noisy100)',
    )
  parser.add_argument('--examples_per_shard', type=int, default=1024)
  parser.add_argument('--threads', type=int, default=8)
  parser.add_argument(
    '--validate',
    choices=record_writer.VALIDATE_MODES,
    default='decode',
    help='decode: decode every image once (slow, catches all bad files); '
    'header: structural check only',
  )
  parser.add_argument(
    '--overwrite',
    action='store_true',
    help='start over even if --output_dir holds shards of other inputs',
  )
  return parser


def convert(dataset: str, args: argparse.Namespace) -> dict:
  """Converts `dataset` as `args` say; returns dataset_info.json (host)."""
  if args.examples_per_shard < 1 or args.threads < 1:
    raise UserError('--examples_per_shard and --threads must be >= 1')
  if record_format.is_converted(args.data_dir):
    raise UserError(f'--data_dir {args.data_dir} is already converted')
  if args.output_dir.rstrip('/') == args.data_dir.rstrip('/'):
    raise UserError('--output_dir must differ from --data_dir')
  imagenet_dir = getattr(args, 'imagenet_dir', '')
  cfg = config.DataConfig(
    dataset=dataset,
    data_dir=args.data_dir,
    imagenet_dir=imagenet_dir,
    cifarn_labels=getattr(args, 'cifarn_labels', ''),
    # Missing files are listed, not fatal, here; training applies the limit.
    max_bad_examples=sys.maxsize,
  )
  splits = registry.load_split_set(cfg)
  if args.overwrite and tf.io.gfile.exists(args.output_dir):
    tf.io.gfile.rmtree(args.output_dir)
  missing = [list(item) for item in splits.bad_examples.host_items()]
  info = record_writer.convert(
    splits,
    args.output_dir,
    roots=tuple(r for r in (args.data_dir, imagenet_dir) if r),
    examples_per_shard=args.examples_per_shard,
    threads=args.threads,
    validate=args.validate,
  )
  if missing:
    info['missing_files'] = missing
    record_format.write_info(args.output_dir, info)
  return info


def main(dataset: str, argv=None) -> int:
  """Runs the converter; returns the process exit status."""
  args = _parser(dataset).parse_args(argv)
  try:
    info = convert(dataset, args)
  except UserError as e:
    print(f'prepare_{dataset}: error: {e}', file=sys.stderr, flush=True)
    return EXIT_USER_ERROR
  counts = ', '.join(
    f'{name} {entry["count"]} ({len(entry["bad"])} skipped)'
    for name, entry in sorted(info['splits'].items())
  )
  print(f'prepare_{dataset}: wrote {args.output_dir}: {counts}', flush=True)
  return 0
