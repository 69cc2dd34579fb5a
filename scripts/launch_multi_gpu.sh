#!/usr/bin/env bash
# Trains ieg_tf on the GPUs of one host, or on several hosts.
#
# One host, all visible GPUs (MirroredStrategy, NCCL all-reduce):
#   WORKDIR=/runs/NAME bash scripts/launch_multi_gpu.sh [--dry-run] [FLAG ...]
#
# Several hosts (MultiWorkerMirroredStrategy): run the SAME command on every
# host, each with its own --index, all with the same shared WORKDIR (gs://
# or a network file system; worker 0 is the chief and writes it):
#   WORKDIR=gs://BUCKET/runs/NAME bash scripts/launch_multi_gpu.sh \
#     --workers=10.0.0.1:12345,10.0.0.2:12345 --index=0 [FLAG ...]
# The script turns --workers/--index into TF_CONFIG. The hosts must reach
# each other on those ports; a worker waits for the others at its first
# collective, so start them all.
#
# Options:
#   --dry-run          print TF_CONFIG and the commands, run nothing.
#   --install          first `pip install -e ".[gpu]"`.
#   --workers=A,B,...  host:port of every worker, the same list everywhere.
#   --index=N          this host's position in --workers (0 = chief).
#   FLAG ...           more ieg_tf flags, appended last (they win).
#
# Environment:
#   WORKDIR               run directory (required); re-running resumes.
#   DATA_DIR              dataset location (optional: the flagfile's).
#   FLAGFILE              recipe, default flags/cifar100_uniform.cfg.
#   PYTHON                interpreter, default python3.
#   CUDA_VISIBLE_DEVICES  which GPUs (default all).
# --batch_size is the GLOBAL batch: every replica gets batch / replicas.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

die() {
  echo "launch_multi_gpu.sh: $*" >&2
  exit 2
}

dry_run=false
install=false
workers=""
index=""
extra=()
for arg in "$@"; do
  case "${arg}" in
    --dry-run) dry_run=true ;;
    --install) install=true ;;
    --workers=*) workers="${arg#--workers=}" ;;
    --index=*) index="${arg#--index=}" ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d'
      exit 0
      ;;
    --*) extra+=("${arg}") ;;
    *) die "unexpected argument '${arg}'; ieg_tf flags look like --name=value" ;;
  esac
done

: "${FLAGFILE:=flags/cifar100_uniform.cfg}"
: "${PYTHON:=python3}"
[[ -n "${WORKDIR:-}" ]] || die "set WORKDIR (shared by all workers)"
if [[ ! -f "${FLAGFILE}" ]]; then
  ${dry_run} || die "FLAGFILE=${FLAGFILE} does not exist"
  echo "launch_multi_gpu.sh: warning: FLAGFILE=${FLAGFILE} does not exist" >&2
fi

cmd=("${PYTHON}" -m ieg_tf.main "--flagfile=${FLAGFILE}"
  "--workdir=${WORKDIR}")
if [[ -n "${DATA_DIR:-}" ]]; then
  cmd+=("--data_dir=${DATA_DIR}")
fi

if [[ -z "${workers}" ]]; then
  [[ -z "${index}" ]] || die "--index needs --workers"
  cmd+=(--strategy=mirrored)
else
  IFS=',' read -r -a hosts <<<"${workers}"
  for host in "${hosts[@]}"; do
    [[ "${host}" =~ ^[^:,\"[:space:]]+:[0-9]+$ ]] ||
      die "--workers entry '${host}' is not host:port"
  done
  [[ "${index}" =~ ^[0-9]+$ ]] || die "--workers needs --index=N"
  ((index < ${#hosts[@]})) ||
    die "--index=${index} but --workers lists ${#hosts[@]} hosts"
  quoted=$(printf '"%s",' "${hosts[@]}")
  TF_CONFIG=$(printf \
    '{"cluster": {"worker": [%s]}, "task": {"type": "worker", "index": %d}}' \
    "${quoted%,}" "${index}")
  export TF_CONFIG
  echo "+ export TF_CONFIG='${TF_CONFIG}'"
  cmd+=(--strategy=multi_worker)
fi
cmd+=("${extra[@]}")

run() {
  echo "+ $*"
  ${dry_run} || "$@"
}

if ${install}; then
  run "${PYTHON}" -m pip install -e ".[gpu]"
fi
run "${cmd[@]}"
