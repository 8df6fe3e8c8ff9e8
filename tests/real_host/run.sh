#!/usr/bin/env bash
# Checks this extension inside a real WebUI checkout (A1111 v1.10.x or Forge).
#   WEBUI_DIR=/path/to/stable-diffusion-webui bash tests/real_host/run.sh
# Without WEBUI_DIR it prints "skipped" and exits 0. It links this checkout into
# $WEBUI_DIR/extensions/, starts the WebUI on the CPU with --api on a free local port, and checks:
# the tab is in the UI config, the Settings entries exist, the img2img script is listed, and the
# REST API answers. The WebUI's own venv/launcher is used (webui.sh / launch.py), nothing is installed here.
set -euo pipefail
if [ -z "${WEBUI_DIR:-}" ]; then echo "skipped: set WEBUI_DIR to a WebUI checkout"; exit 0; fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
port=${IA_REAL_HOST_PORT:-7899}
link="$WEBUI_DIR/extensions/inpaint-anything-under-test"
log=$(mktemp)
ln -sfn "$repo" "$link"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true; rm -f "$link"; }
trap cleanup EXIT
cd "$WEBUI_DIR"
python=${WEBUI_PYTHON:-$( [ -x venv/bin/python ] && echo venv/bin/python || echo python3 )}
"$python" launch.py --skip-torch-cuda-test --use-cpu all --no-half --api --port "$port" --skip-version-check \
    ${WEBUI_ARGS:-} >"$log" 2>&1 &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 360); do
  curl -sf "$base/sdapi/v1/options" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "the WebUI exited; log:"; tail -50 "$log"; exit 1; }
  sleep 2
done
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
check "tab 'Inpaint Anything' in the UI" "curl -sf $base/config | grep -q 'Inpaint Anything'"
check "settings registered" "curl -sf $base/sdapi/v1/options | grep -q ia_models_dir"
check "img2img script listed" "curl -sf $base/sdapi/v1/scripts | grep -qi 'outpainting (inpaint anything)'"
check "REST API answers" "curl -sf $base/inpaint-anything/v1/version | grep -q api_version"
check "SAM catalogue listed" "curl -sf $base/inpaint-anything/v1/models/sam | grep -q sam_vit_b"
check "no extension errors in the log" "! grep -q 'Error loading script: inpaint_anything' $log"
[ $fail = 0 ] && echo "real host: all checks passed" || { echo "log: $log"; exit 1; }
