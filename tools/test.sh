#!/usr/bin/env bash
# The test command (README, .ci/run). Builds or reuses the test stacks outside the checkout, then runs
#   - the whole suite on the "a1111" stack (gradio 3.41.2, pydantic 1, transformers 4.30.2), and
#   - the tests marked both_stacks on the "forge" stack (gradio 4.40, pydantic 2).
# Extra arguments go to pytest (e.g. tools/test.sh -k mask). IA_STACKS="a1111" limits the stacks;
# IA_BROWSER=0 skips installing Chromium/Playwright for the browser tests; IA_LINT=0 skips ruff;
# IA_FUZZ=0 skips building schemathesis (tests/test_api_schemathesis.py then skips).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PYTHONDONTWRITEBYTECODE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export GRADIO_ANALYTICS_ENABLED=False
status=0
if [ "${IA_BROWSER:-1}" != 0 ]; then
  # Chromium (apt) + the Playwright driver (PyPI, outside the checkout) for tests/browser;
  # without them those tests skip and say why.
  bash tools/browser_setup.sh >/dev/null || echo "== browser tools unavailable: browser tests will be skipped"
fi
if [ "${IA_FUZZ:-1}" != 0 ]; then
  # schemathesis in its own environment, for tests/test_api_schemathesis.py (skipped without it)
  if fuzz=$(bash tools/venv.sh fuzz); then export IA_SCHEMATHESIS="$fuzz/bin/st"
  else echo "== schemathesis unavailable: the API fuzz test will be skipped"; fi
fi
for stack in ${IA_STACKS:-a1111 forge}; do
  venv=$(bash tools/venv.sh "$stack") || { echo "== could not build the $stack stack" >&2; exit 1; }
  if [ "$stack" = a1111 ]; then sel=(); else sel=(-m both_stacks); fi
  echo "== pytest on the $stack stack ($venv)"
  "$venv/bin/python" -m pytest "${sel[@]}" "$@"
  rc=$?
  if [ $rc -ne 0 ]; then echo "== $stack stack: pytest exit code $rc"; status=1; fi
done
if [ -n "${IA_LINT:-1}" ] && [ "${IA_LINT:-1}" != 0 ]; then
  venv=$(bash tools/venv.sh a1111)
  echo "== ruff"
  "$venv/bin/ruff" check . || status=1
  "$venv/bin/ruff" format --check . || { echo "== ruff format would change the files above: run ruff format ."; status=1; }
fi
exit $status
