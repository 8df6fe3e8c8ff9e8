#!/usr/bin/env bash
# Usage: tools/browser_setup.sh
# Installs what the browser tests (tests/browser, marker "browser") need on a Debian/Ubuntu machine
# and prints the directory that holds the Python driver:
#   - Chromium at /usr/bin/chromium, from apt when missing (root or password-less sudo needed);
#   - the Playwright Python package (PyPI wheel) in a --target directory outside the checkout and
#     outside the test stacks: $IA_BROWSER_TOOLS, default
#     ${IA_CACHE_DIR:-~/.cache/inpaint-anything}/browser-tools/py<major><minor>.
#     tests/browser/conftest.py appends that directory to sys.path. Playwright drives the system
#     Chromium (executable_path), so `playwright install` (a browser download) is never run.
# Idempotent: a second run only checks. Exit code 1 when something could not be installed; the
# browser tests then skip themselves with the reason.
set -euo pipefail
py=${IA_PYTHON:-python3.11}
command -v "$py" >/dev/null || { echo "$py not found; set IA_PYTHON to the stacks' Python" >&2; exit 1; }
tag=$("$py" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')
cache=${IA_CACHE_DIR:-$HOME/.cache/inpaint-anything}
target=${IA_BROWSER_TOOLS:-$cache/browser-tools/$tag}
spec=${IA_PLAYWRIGHT_SPEC:-playwright==1.65.2}
status=0

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium with apt-get" >&2
  if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n); else sudo=(); fi
  if [ "$(id -u)" != 0 ] && [ ${#sudo[@]} -eq 0 ]; then
    echo "cannot install chromium: not root and no password-less sudo (apt-get install -y chromium)" >&2
    status=1
  else
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y chromium >&2 \
      || { "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y chromium >&2; } \
      || { echo "apt-get install chromium failed" >&2; status=1; }
  fi
fi
if [ -x /usr/bin/chromium ]; then
  # a headless start proves the shared libraries are all there
  timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --dump-dom about:blank >/dev/null 2>&1 \
    || { echo "chromium is installed but does not start headless" >&2; status=1; }
fi

if ! PYTHONPATH="$target" "$py" -c 'import playwright.sync_api' >/dev/null 2>&1; then
  echo "== installing $spec into $target" >&2
  rm -rf "$target.tmp"
  mkdir -p "$(dirname "$target")"
  if "$py" -m pip install -q --disable-pip-version-check --no-warn-script-location --target "$target.tmp" "$spec" >&2; then
    rm -rf "$target" && mv "$target.tmp" "$target"
  else
    echo "pip could not install $spec" >&2
    rm -rf "$target.tmp"
    status=1
  fi
fi
echo "$target"
exit $status
