#!/usr/bin/env bash
# Usage: tools/venv.sh STACK   (STACK = a1111 | forge | fuzz)
# Creates (once) and prints the path of a virtual environment for a test stack. Environments live
# outside the checkout, in $IA_CACHE_DIR (default ~/.cache/inpaint-anything), keyed by a hash of the
# requirements files and the Python version, so an unchanged stack is reused and a changed one is
# rebuilt. A half-built environment (no .complete marker) is removed and built again.
set -euo pipefail
stack=${1:?usage: tools/venv.sh a1111|forge}
root=$(cd "$(dirname "$0")/.." && pwd)
req="$root/requirements/test-$stack.txt"
[ -f "$req" ] || { echo "unknown stack '$stack' (no $req)" >&2; exit 2; }
py=${IA_PYTHON:-python3.11}
command -v "$py" >/dev/null || { echo "$py not found; set IA_PYTHON to a Python 3.10/3.11 interpreter" >&2; exit 2; }
key=$( { "$py" -c 'import sys; print(sys.version)'; cat "$req" "$root"/requirements/runtime.txt "$root"/requirements/test-tools.txt "$root"/requirements/sam2.txt; } | sha256sum | cut -c1-12)
cache=${IA_CACHE_DIR:-$HOME/.cache/inpaint-anything}
venv="$cache/venv-$stack-$key"
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  echo "== building the '$stack' test stack in $venv (a few minutes, once)" >&2
  "$py" -m venv "$venv"
  # setuptools >= 77 is needed by torch 2.14's metadata; < 81 keeps pkg_resources for old packages.
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -U pip wheel "setuptools>=77,<81" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
  if [ "$stack" != fuzz ]; then  # the fuzz stack is only the schemathesis client
    # sam2 is an sdist whose build imports torch: build it against the torch just installed
    SAM2_BUILD_CUDA=0 "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation -r "$root/requirements/sam2.txt" >&2
  fi
  "$venv/bin/python" -m pip check >&2 || echo "warning: pip check reports conflicts in $venv" >&2
  touch "$venv/.complete"
  # keep only the two newest environments of this stack
  ls -1dt "$cache"/venv-"$stack"-* 2>/dev/null | tail -n +3 | xargs -r rm -rf
fi
echo "$venv"
