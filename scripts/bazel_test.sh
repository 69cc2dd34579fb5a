#!/usr/bin/env bash
# Runs the test suite under Bazel, offline.
#
# Usage: bash scripts/bazel_test.sh [bazel test options] [targets]
#   Targets default to //... ; e.g. `bash scripts/bazel_test.sh
#   --test_tag_filters=-e2e` skips the end-to-end tests.
#
# Bazel builds nothing from the internet here: the WORKSPACE points the rule
# repositories Bazel wants at stubs in third_party/, and TensorFlow & co. come
# from the Python interpreter of the active virtualenv (or the python on PATH),
# handed to Bazel with --python_path. Bazel itself is Debian's bazel-bootstrap,
# installed with apt-get when `bazel` is missing.
#
# Environment:
#   VIRTUAL_ENV          the virtualenv whose python runs the tests.
#   PYTHON               an explicit interpreter (wins over VIRTUAL_ENV).
#   IEG_TF_SHARED_DATA   real data folder; default <repo>/../shared/data.
#   IEG_TF_BAZEL_ROOT    Bazel's output root; default /tmp/ieg_tf_bazel.
#   CI                   when "true", the Bazel server is stopped at the end.
# Exit status: Bazel's (0 all passed, 3 some test failed, 1 build error...).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

die() {
  echo "bazel_test.sh: $*" >&2
  exit 2
}

install_bazel() {
  echo 'bazel_test.sh: no bazel; installing bazel-bootstrap with apt-get.'
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo > /dev/null ||
      die 'bazel is missing and this is not root: install bazel-bootstrap.'
    sudo=(sudo -n)
  fi
  local log
  log="$(mktemp)"
  # A fresh machine has no package lists yet, so update before installing.
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq)
  if ! { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends \
    bazel-bootstrap; } < /dev/null > "${log}" 2>&1; then
    cat "${log}" >&2
    die 'installing bazel-bootstrap with apt-get failed (log above).'
  fi
  rm -f "${log}"
}

command -v bazel > /dev/null || install_bazel

# The interpreter must be absolute: Bazel runs tests from their runfiles tree.
if [[ -n "${PYTHON:-}" ]]; then
  python="${PYTHON}"
elif [[ -n "${VIRTUAL_ENV:-}" && -x "${VIRTUAL_ENV}/bin/python" ]]; then
  python="${VIRTUAL_ENV}/bin/python"
else
  python="$(command -v python3 || command -v python || true)"
fi
[[ -n "${python}" ]] || die 'no python found: activate the virtualenv.'
python="$(command -v "${python}")" || die "python not found: ${python}"
[[ "${python}" == /* ]] || python="${PWD}/${python}"
"${python}" -c 'import importlib.util as u, sys
sys.exit(u.find_spec("tensorflow") is None)' ||
  die "${python} cannot import tensorflow: pip install -e '.[cpu,test]' first."

output_root="${IEG_TF_BAZEL_ROOT:-/tmp/ieg_tf_bazel}"
mkdir -p "${output_root}"

# Bazel 4's launcher for py_test starts with `#!/usr/bin/env python` and only
# then runs --python_path; Debian has no `python`, and .bazelrc fixes the
# tests' PATH (strict action env). So tests get a PATH whose first entry holds
# a `python` that is the chosen interpreter (one folder per interpreter, so
# clones sharing the output root never overwrite each other's).
python_key="$(printf %s "${python}" | md5sum | cut -c1-12)"
shim_dir="${output_root}/python_shim/${python_key}"
mkdir -p "${shim_dir}"
printf '#!/bin/sh\nexec %q "$@"\n' "${python}" > "${shim_dir}/python"
chmod +x "${shim_dir}/python"

test_env=(
  "--test_env=PATH=${shim_dir}:/usr/local/bin:/usr/bin:/bin"
  --test_env=TF_CPP_MIN_LOG_LEVEL=2
)
# Tests find the real data through this variable: ../shared/data does not
# exist inside Bazel's sandbox. Without it they skip the real-data cases.
shared_data="${IEG_TF_SHARED_DATA:-${repo_root}/../shared/data}"
if [[ -d "${shared_data}" ]]; then
  shared_data="$(cd "${shared_data}" && pwd)"
  test_env+=("--test_env=IEG_TF_SHARED_DATA=${shared_data}")
fi

# Default to every target unless the caller named some.
args=("$@")
has_target=false
for arg in "${args[@]+"${args[@]}"}"; do
  case "${arg}" in
    //* | -//* | :* | @*) has_target=true ;;
  esac
done
${has_target} || args+=(//...)

startup=(
  "--output_user_root=${output_root}"
  # An idle server holds ~300 MB; let it go soon after a run.
  --max_idle_secs=900
)

# Bazel's summary has one line per test target; keep a copy to count them.
log="$(mktemp)"
trap 'rm -f "${log}"' EXIT
status=0
bazel "${startup[@]}" test \
  "--python_path=${python}" \
  --test_output=errors \
  --local_test_jobs=2 \
  "${test_env[@]}" \
  --noshow_progress \
  --color=no \
  --curses=no \
  "${args[@]}" < /dev/null 2>&1 | tee "${log}" || status="${PIPESTATUS[0]}"

if [[ "${CI:-}" == true ]]; then
  bazel "${startup[@]}" shutdown < /dev/null || true
fi
# A plain closing line that CI and people can read without knowing Bazel.
passed="$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "${log}" || true)"
failed="$(grep -cE '^//[^ ]+ +.*(FAILED|TIMEOUT|FLAKY|INCOMPLETE|NO STATUS)' \
  "${log}" || true)"
echo "bazel: ${passed} passed, ${failed} failed"
exit "${status}"
