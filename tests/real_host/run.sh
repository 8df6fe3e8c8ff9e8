#!/usr/bin/env bash
# Checks this extension inside a real WebUI checkout (A1111 v1.10.x or Forge).
#   WEBUI_DIR=/path/to/stable-diffusion-webui bash tests/real_host/run.sh
# Without WEBUI_DIR it prints "skipped" and exits 0. It links this checkout into
# $WEBUI_DIR/extensions/, starts the WebUI on the CPU with --api on a free local port, and checks:
# the tab is in the UI config, the Settings entries exist, the img2img script is listed, the
# REST API answers and removes an object without any model (and saves it through the host with a
# file name without an empty seed), install.py reported no failure, and
# no traceback in the log passes through this extension's code. When the WebUI lists a checkpoint
# it also generates at 64x64 (img2img + our outpainting script, also with override_settings and img2img's
# Width/Height at 512, which the script ignores; our API's "webui" backend).
# The WebUI's own launcher (launch.py, which runs our install.py) and Python are used; this
# script installs nothing itself.
# Optional: WEBUI_PYTHON (default: $WEBUI_DIR/venv/bin/python, else python3), WEBUI_ARGS (extra
# launch.py flags, e.g. "--no-download-sd-model --skip-load-model-at-start"), IA_REAL_HOST_PORT.
# The log is kept; its path is printed first.
set -euo pipefail
if [ -z "${WEBUI_DIR:-}" ]; then echo "skipped: set WEBUI_DIR to a WebUI checkout"; exit 0; fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
port=${IA_REAL_HOST_PORT:-7899}
name=inpaint-anything-under-test
link="$WEBUI_DIR/extensions/$name"
log=$(mktemp "${TMPDIR:-/tmp}/ia-real-host.XXXXXX")
bodies=$(mktemp -d "${TMPDIR:-/tmp}/ia-real-host-bodies.XXXXXX")
echo "log: $log"
ln -sfn "$repo" "$link"
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true; rm -rf "$link" "$bodies"; }
trap cleanup EXIT
cd "$WEBUI_DIR"
python=${WEBUI_PYTHON:-$( [ -x venv/bin/python ] && echo venv/bin/python || echo python3 )}
# CPU flags per host: Forge's backend ignores A1111's --use-cpu and needs its own --always-cpu
if [ -d modules_forge ]; then host=forge; cpu_flags="--always-cpu --skip-torch-cuda-test"
else host=a1111; cpu_flags="--skip-torch-cuda-test --use-cpu all --no-half"; fi
echo "host: $host ($cpu_flags)"
started=$(date +%s)
# shellcheck disable=SC2086  # cpu_flags and WEBUI_ARGS are lists of flags
"$python" launch.py $cpu_flags --api --port "$port" --skip-version-check \
    ${WEBUI_ARGS:-} >"$log" 2>&1 &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 360); do
  curl -sf "$base/sdapi/v1/options" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "the WebUI exited; log:"; tail -50 "$log"; exit 1; }
  sleep 2
done
for _ in $(seq 1 20); do grep -q '^Startup time' "$log" && break; sleep 0.5; done  # printed after the API is up
echo "WebUI answered after $(( $(date +%s) - started )) s; $(grep -m1 '^Startup time' "$log" || echo 'no startup time line')"
# request bodies: a 32x24 picture with a red square and a mask over it (model-free object removal),
# and 64x64 generation requests for when the WebUI has a checkpoint (img2img + our outpainting script,
# our API's "webui" backend)
"$python" - "$bodies" "$base" <<'PY'
import base64, io, json, sys, urllib.request
from PIL import Image
def png(im):
    buf = io.BytesIO(); im.save(buf, "PNG"); return base64.b64encode(buf.getvalue()).decode()
img = Image.new("RGB", (32, 24), (40, 120, 200)); img.paste((250, 20, 20), (12, 8, 20, 16))
mask = Image.new("L", (32, 24), 0); mask.paste(255, (10, 6, 22, 18))
big, big_mask = img.resize((64, 64)), mask.resize((64, 64))
script_args = ["pixels", 16, 16, 0, 0, "16:9", 1.5, 0.5, 0.5, "edge", 8, "all", 4]
bodies = {
    "remove": {"image": png(img), "mask": png(mask), "method": "telea"},
    "img2img": {"init_images": [png(big)], "prompt": "test", "steps": 1, "width": 64, "height": 64, "seed": 1,
                "denoising_strength": 0.75, "script_name": "outpainting (inpaint anything)", "script_args": script_args},
    "inpaint": {"image": png(big), "mask": png(big_mask), "backend": "webui", "options": {"native_size": 64},
                "request": {"prompt": "test", "steps": 1, "seed": 1}},
    "inpaint_soft": {"image": png(big), "mask": png(big_mask), "backend": "webui", "options": {"native_size": 64},
                     "request": {"prompt": "test", "steps": 1, "seed": 1, "denoising_strength": 0.75,
                                 "soft_inpainting": True, "soft_schedule_bias": 2.0}},
    # ControlNet inpaint (run only where sd-webui-controlnet is installed, see below): the first inpaint
    # ControlNet the host lists, inpaint_only; the answer's infotext must carry the extension's "ControlNet 0"
    "inpaint_cn": {"image": png(big), "mask": png(big_mask), "backend": "webui_controlnet", "options": {"native_size": 64},
                   "request": {"prompt": "test", "steps": 1, "seed": 1}, "controlnet": {"module": "inpaint_only"}},
}
# the same with the reference unit (reference_only fed with the picture) as the second unit
bodies["inpaint_cn_ref"] = {**bodies["inpaint_cn"], "controlnet": {"module": "inpaint_only", "reference": True}}
# our outpainting script with its "ControlNet inpaint" choice on (script_args 14-15: on, inpaint_only)
bodies["img2img_cn"] = {**bodies["img2img"], "script_args": script_args + [True, "inpaint_only"]}
# the same script run with the UI's words for its choices, img2img's 512x512 (ignored) and override_settings
# naming the first listed checkpoint (the request's overrides must reach the processing the script builds)
try:
    with urllib.request.urlopen(sys.argv[2] + "/sdapi/v1/sd-models", timeout=30) as answer:
        models = json.load(answer)
except Exception:
    models = []
if models:
    words = ["pixels per side", 16, 16, 0, 0, "16:9", 1.5, 0.5, 0.5, "stretched edge", 8, "all sides at once", 4]
    bodies["img2img_override"] = {**bodies["img2img"], "width": 512, "height": 512, "script_args": words,
                                  "override_settings": {"sd_model_checkpoint": models[0]["title"]},
                                  "override_settings_restore_afterwards": True}
bodies["remove_save"] = {**bodies["remove"], "save": True}
for name, body in bodies.items():
    with open(f"{sys.argv[1]}/{name}.json", "w") as fh:
        json.dump(body, fh)
PY
# prints the file name (no folder) of the first saved result of a JSON answer on stdin
first_saved() { "$python" -c 'import json, os, sys; print(os.path.basename(json.load(sys.stdin)["saved"][0]))' 2>/dev/null || echo none; }
# prints WxH of the first image of a JSON answer on stdin
first_size() { "$python" -c 'import base64, io, json, sys; from PIL import Image; im = Image.open(io.BytesIO(base64.b64decode(json.load(sys.stdin)["images"][0]))); print(f"{im.width}x{im.height}")' 2>/dev/null || echo none; }
# prints the infotext of the first image of a JSON answer on stdin
first_infotext() { "$python" -c 'import json, sys; print(json.load(sys.stdin)["infotexts"][0])' 2>/dev/null || echo none; }
# prints the infotext of the first image of an /sdapi/v1/img2img answer on stdin (its "info" is a JSON string)
img2img_infotext() { "$python" -c 'import json, sys; print(json.loads(json.load(sys.stdin)["info"])["infotexts"][0])' 2>/dev/null || echo none; }
# exit 0 when the first image of a JSON answer on stdin is 64x64 and equals request body $1's image outside
# its mask grown by 16 px (the blend band): nothing outside the mask changed
kept_outside() { "$python" -c '
import base64, io, json, sys
from PIL import Image, ImageFilter, ImageChops
body = json.load(open(sys.argv[1])); out = json.load(sys.stdin)
load = lambda b: Image.open(io.BytesIO(base64.b64decode(b)))
got, src = load(out["images"][0]).convert("RGB"), load(body["image"]).convert("RGB")
band = load(body["mask"]).convert("L").filter(ImageFilter.MaxFilter(33))
diff = ImageChops.difference(got, src).convert("L").point(lambda v: 255 if v else 0)
sys.exit(0 if got.size == (64, 64) and ImageChops.multiply(diff, ImageChops.invert(band)).getbbox() is None else 1)
' "$bodies/$2.json" 2>/dev/null; }
post() { curl -sf -X POST -H 'Content-Type: application/json' -d "@$bodies/$1.json" "$base$2"; }
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
check "tab 'Inpaint Anything' in the UI" "curl -sf $base/config | grep -q 'Inpaint Anything'"
if [ $host = forge ]; then
  # Forge's GET /sdapi/v1/options answers through a pydantic model frozen when modules.api.models is first
  # imported - by its built-in ControlNet, before any user extension loads - so it lists no extension's
  # settings (its own SwinIR ones neither); check the Settings UI component instead
  check "settings registered (Settings UI)" "curl -sf $base/config | grep -q setting_ia_models_dir"
else
  check "settings registered" "curl -sf $base/sdapi/v1/options | grep -q ia_models_dir"
fi
check "img2img script listed" "curl -sf $base/sdapi/v1/scripts | grep -qi 'outpainting (inpaint anything)'"
check "REST API answers" "curl -sf $base/inpaint-anything/v1/version | grep -q api_version"
check "SAM catalogue listed" "curl -sf $base/inpaint-anything/v1/models/sam | grep -q sam_vit_b"
case " ${WEBUI_ARGS:-} " in *" --skip-load-model-at-start "*)  # nothing of ours may load the checkpoint (tab, hint, API)
  loading='Loading weights \['; [ $host = forge ] && loading='^Loading Model: '  # what each host prints when it loads
  check "no checkpoint loaded before the first generation" "! grep -q '$loading' $log" ;;
esac
check "object removal without a model (telea)" "[ \"\$(post remove /inpaint-anything/v1/remove | first_size)\" = 32x24 ]"
# a removal saved through the host's save_image: named NNNNN-ia-remove.png, never with an empty seed (NNNNN--ia-remove)
check "a saved removal has no empty seed in its file name" \
  "post remove_save /inpaint-anything/v1/remove | first_saved | grep -qE '^[0-9]{5}-ia-remove\.[a-z]+\$'"
if [ "$(curl -sf "$base/sdapi/v1/sd-models" || echo '[]')" != "[]" ]; then
  check "img2img with our outpainting script (64x64 -> 96x64)" "[ \"\$(post img2img /sdapi/v1/img2img | first_size)\" = 96x64 ]"
  check "our outpainting script with override_settings and img2img 512x512 (64x64 -> 96x64)" \
    "[ \"\$(post img2img_override /sdapi/v1/img2img | first_size)\" = 96x64 ]"
  check "our API's webui backend inpaints with the checkpoint" "[ \"\$(post inpaint /inpaint-anything/v1/inpaint | first_size)\" = 64x64 ]"
  check "our API's webui backend with the WebUI's soft inpainting" \
    "[ \"\$(post inpaint_soft /inpaint-anything/v1/inpaint | first_size)\" = 64x64 ]"
  # ControlNet inpaint only where a ControlNet is there (A1111: sd-webui-controlnet; Forge: its built-in
  # sd_forge_controlnet) and has an inpaint model in models/ControlNet
  cn=""
  [ -d "$WEBUI_DIR/extensions/sd-webui-controlnet" ] && cn="sd-webui-controlnet"
  [ $host = forge ] && [ -d "$WEBUI_DIR/extensions-builtin/sd_forge_controlnet" ] && cn="Forge's built-in ControlNet"
  if [ -n "$cn" ] && ls "$WEBUI_DIR/models/ControlNet" 2>/dev/null | grep -qi inpaint; then
    check "our API's webui_controlnet backend through $cn (ControlNet 0 in the infotext)" \
      "post inpaint_cn /inpaint-anything/v1/inpaint | first_infotext | grep -q 'ControlNet 0: .Module: inpaint_only'"
    check "webui_controlnet with the reference unit (ControlNet 1: reference_only in the infotext)" \
      "post inpaint_cn_ref /inpaint-anything/v1/inpaint | first_infotext | grep -q 'ControlNet 1: .Module: reference_only'"
    check "webui_controlnet: 64x64, nothing outside the mask and its blend band changed" \
      "post inpaint_cn /inpaint-anything/v1/inpaint | kept_outside - inpaint_cn"
    check "our outpainting script with ControlNet inpaint (ControlNet 0 in the infotext)" \
      "post img2img_cn /sdapi/v1/img2img | img2img_infotext | grep -q 'ControlNet 0: .Module: inpaint_only'"
    # what the host really ran: inpaint_only, not sd-webui-controlnet's fallback for an img2img that has a mask too
    check "$cn ran inpaint_only (no fallback to inpaint_global_harmonious)" \
      "grep -q 'Using preprocessor: inpaint_only' $log && ! grep -q 'ControlNet inpaint duplicated' $log"
    # the host prints a ControlNet that failed and carries on without it: there must be none
    check "$cn reported no error" "! grep -qiE 'Error running [a-z_]+: .*controlnet' $log"
  else
    echo "skip ControlNet check: no ControlNet with an inpaint model in \$WEBUI_DIR/models/ControlNet"
  fi
else
  echo "skip generation checks: the WebUI lists no checkpoint"
fi
check "no extension errors in the log" "! grep -qE 'Error (loading script|executing callback).*inpaint_anything' $log"
check "install.py reported no failure" \
  "! grep -qE '\[Inpaint Anything\] (could not install|install.py failed)|Error running install.py for extension .*$name' $log"
check "no traceback through the extension's code" "! grep -qE 'extensions/$name/.*\.py\", line [0-9]+' $log"
if [ $fail = 0 ]; then echo "real host: all checks passed"; else
  grep -nE "extensions/$name/.*\.py\", line [0-9]+|Error (loading script|executing callback)|\[Inpaint Anything\]" "$log" | head -20 || true
  echo "log: $log"; exit 1
fi
