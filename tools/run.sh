#!/usr/bin/env bash
# The main command (README): builds or reuses the environment outside the checkout, then starts
# the standalone app. Arguments go to `python -m inpaint_anything` (see --help), e.g.
#   bash tools/run.sh                      the app on http://127.0.0.1:7870
#   bash tools/run.sh batch --input photos/ --masks masks/ --op remove --output out/
# It runs in the folder you call it from, so relative paths (and ./outputs) are yours; the checkout
# is put on PYTHONPATH. IA_VENV=/path/to/venv uses that environment instead of building one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${IA_VENV:-$(bash "$root/tools/venv.sh" a1111)}
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/python" -m inpaint_anything "$@"
