#!/usr/bin/env bash
# Installs the headless browser the web UI test drives (test/ui.test.ts):
# Debian's chromium package, at /usr/bin/chromium, driven by playwright-core
# (which downloads no browser of its own). Idempotent: returns at once when
# Chromium is there. Override the path with CHROMIUM_PATH.
set -euo pipefail

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ -x "$chromium" ]]; then
  echo "$chromium"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: $chromium is missing and there is no apt-get here; install Chromium and set CHROMIUM_PATH to it." >&2
  exit 2
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium
if [[ ! -x "$chromium" ]]; then
  echo "setup-browser: installed the chromium package but $chromium is not there; set CHROMIUM_PATH to the binary." >&2
  exit 2
fi
echo "$chromium"
