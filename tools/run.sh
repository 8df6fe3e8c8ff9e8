#!/usr/bin/env bash
# The main command (README): builds or reuses the environment outside the checkout, then starts
# the standalone app. Arguments go to `python -m inpaint_anything` (see --help).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$(bash "$root/tools/venv.sh" a1111)
cd "$root"
exec "$venv/bin/python" -m inpaint_anything "$@"
