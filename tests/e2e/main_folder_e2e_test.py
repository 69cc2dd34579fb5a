"""End to end on a real image-folder tree cut from the shared CIFAR-10 JPEGs."""

import os
import tarfile

import tensorflow as tf

from ieg_tf.runtime import summaries
from tests.e2e import cli_runner

_TRAIN_PER_CLASS = 40
_TEST_PER_CLASS = 10


def extract_cifar_folder(dest: str, train_per_class: int, test_per_class: int):
  """Copies the first N images per class of the shared tar into `dest`.

  Returns:
    False when the shared tar is absent.
  """
  tar_path = os.path.join(cli_runner.shared_data_dir(), 'cifar10_jpg.tar')
  if not os.path.exists(tar_path):
    return False
  want = {'train': train_per_class, 'test': test_per_class}
  taken = {}
  with tarfile.open(tar_path) as tar:
    for member in tar:
      parts = os.path.normpath(member.name).split(os.sep)
      if not member.isfile() or len(parts) != 3 or parts[0] not in want:
        continue
      key = (parts[0], parts[1])
      if taken.get(key, 0) >= want[parts[0]]:
        continue
      taken[key] = taken.get(key, 0) + 1
      out = os.path.join(dest, *parts)
      os.makedirs(os.path.dirname(out), exist_ok=True)
      with tar.extractfile(member) as src, open(out, 'wb') as dst:
        dst.write(src.read())
  return True


class MainFolderTest(tf.test.TestCase):
  def test_supervised_on_cifar_jpeg_folder(self):
    data = self.create_tempdir().full_path
    if not extract_cifar_folder(data, _TRAIN_PER_CLASS, _TEST_PER_CLASS):
      self.skipTest('shared CIFAR-10 JPEG tar not found')
    workdir = self.create_tempdir().full_path
    proc = cli_runner.run_main(
      '--dataset=folder',
      f'--data_dir={data}',
      '--noise_type=flip',
      '--noise_ratio=0.4',
      '--probe_per_class=2',
      f'--workdir={workdir}',
      '--train_steps=20',
      '--batch_size=16',
      '--steps_per_loop=10',
      '--log_every_steps=10',
      '--eval_every_steps=20',
      '--network_name=tiny',
    )
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    rows = summaries.read_metrics(workdir)
    evals = [r for r in rows if 'eval/top1' in r]
    self.assertLen(evals, 1)
    self.assertEqual(evals[0]['eval/num_examples'], 10 * _TEST_PER_CLASS)
    # Clean labels are known for a folder with synthetic noise.
    self.assertIn('acc/train_clean', [k for r in rows for k in r])


if __name__ == '__main__':
  tf.test.main()
