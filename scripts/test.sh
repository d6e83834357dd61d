#!/usr/bin/env bash
# Install what the tests need (pip packages, Debian's chromium for browser tests), then run
# the linters and every test. This is the README's second command and all that .ci/run does.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests…"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

python -m ruff check .
python -m ruff format --check .
python -m pytest "$@"
