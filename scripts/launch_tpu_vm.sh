#!/usr/bin/env bash
# Trains ieg_tf on a Cloud TPU VM. Run it ON the TPU VM, from a checkout.
#
# Usage:
#   WORKDIR=gs://BUCKET/runs/NAME DATA_DIR=gs://BUCKET/data \
#     bash scripts/launch_tpu_vm.sh [--dry-run] [--no-install] [FLAG ...]
#
#   --dry-run     print the environment and the commands, run nothing.
#   --no-install  skip `pip install -e ".[tpu]"` (already installed).
#   FLAG ...      more ieg_tf flags, appended last (they win), e.g.
#                 --train_steps=1000 --batch_size=1024.
#
# Environment:
#   WORKDIR            run directory (required). Use gs:// so checkpoints
#                      outlive the VM; re-running resumes from it.
#   DATA_DIR           dataset location (required), gs:// or a local path.
#   FLAGFILE           recipe, default flags/webvision_mini.cfg.
#   TPU                --tpu value, default "local" (this VM's chips). A pod
#                      slice takes its Cloud TPU name (from worker 0).
#   PYTHON             interpreter, default python3.
#   LIBTPU_FIND_LINKS  pip --find-links for the libtpu wheel that
#                      tensorflow-tpu needs.
#
# The job fails in seconds with one "ieg_tf: error: ..." line (exit 2) when
# the VM has no TPU. Exit status: ieg_tf's (0 done, 2 user error).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

die() {
  echo "launch_tpu_vm.sh: $*" >&2
  exit 2
}

dry_run=false
install=true
extra=()
for arg in "$@"; do
  case "${arg}" in
    --dry-run) dry_run=true ;;
    --no-install) install=false ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d'
      exit 0
      ;;
    --*) extra+=("${arg}") ;;
    *) die "unexpected argument '${arg}'; ieg_tf flags look like --name=value" ;;
  esac
done

: "${FLAGFILE:=flags/webvision_mini.cfg}"
: "${TPU:=local}"
: "${PYTHON:=python3}"
: "${LIBTPU_FIND_LINKS:=https://storage.googleapis.com/libtpu-tf-releases/index.html}"
[[ -n "${WORKDIR:-}" ]] || die "set WORKDIR (e.g. gs://BUCKET/runs/NAME)"
[[ -n "${DATA_DIR:-}" ]] || die "set DATA_DIR (e.g. gs://BUCKET/data)"
if [[ ! -f "${FLAGFILE}" ]]; then
  ${dry_run} || die "FLAGFILE=${FLAGFILE} does not exist"
  echo "launch_tpu_vm.sh: warning: FLAGFILE=${FLAGFILE} does not exist" >&2
fi
if [[ "${WORKDIR}" != gs://* ]]; then
  echo "launch_tpu_vm.sh: warning: WORKDIR is not gs://; checkpoints are" \
    "lost with the VM" >&2
fi

# TensorFlow reads these on a TPU VM; TPU_NAME also documents the choice.
export TPU_NAME="${TPU}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-1}"

install_cmd=("${PYTHON}" -m pip install -e ".[tpu]"
  --find-links "${LIBTPU_FIND_LINKS}")
train_cmd=("${PYTHON}" -m ieg_tf.main
  "--flagfile=${FLAGFILE}"
  --strategy=tpu
  "--tpu=${TPU}"
  "--workdir=${WORKDIR}"
  "--data_dir=${DATA_DIR}"
  "${extra[@]}")

run() {
  echo "+ $*"
  ${dry_run} || "$@"
}

echo "+ export TPU_NAME=${TPU_NAME} TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL}"
if ${install}; then
  run "${install_cmd[@]}"
fi
run "${train_cmd[@]}"
