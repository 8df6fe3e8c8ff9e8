#!/usr/bin/env bash
# The GPU table (issue #16): SAM encode / click / hover / segment everything and SD 1.5 / SDXL
# inpainting with real-size random-weight models, in one command of at most ~8 minutes on a CUDA
# machine; nothing is downloaded. See benchmarks/gpu.py and docs/benchmarks.md.
#
#   bash benchmarks/gpu.sh [--python PATH] [--json OUT] [--budget SECONDS] [--only SECTIONS] [--smoke]
#
# Python: --python PATH, else $PYTHON, else python3 (it needs torch, diffusers, transformers and the
# segment_anything / segment_anything_hq packages, as the project's test environment has them).
# --smoke runs the same code on the CPU with tiny models (well under a minute; numbers meaningless).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=${PYTHON:-python3}
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --python) py=${2:?--python needs a path}; shift 2 ;;
    --python=*) py=${1#--python=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 PYTHONDONTWRITEBYTECODE=1
# gpu.py stops itself at its budget + 60 s; timeout is the last resort if Python itself is stuck
if command -v timeout >/dev/null 2>&1; then
  exec timeout -k 10 570 "$py" "$here/gpu.py" ${args[@]+"${args[@]}"}
fi
exec "$py" "$here/gpu.py" ${args[@]+"${args[@]}"}
