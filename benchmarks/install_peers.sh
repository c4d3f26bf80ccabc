#!/usr/bin/env bash
# Install the peers that benchmarks/bench_peers.py compares lambdalab with, into a scratch folder
# (default benchmarks/.peers/, or $LAMBDALAB_PEERS_DIR, or the first argument). Nothing is installed
# globally: serverless 3.x (4.x needs a login) + serverless-offline 13.x from npm under <dir>/node_modules,
# python-lambda-local from PyPI under <dir>/py. Idempotent: a second run only checks the versions.
#
#     bash benchmarks/install_peers.sh [dir]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${1:-${LAMBDALAB_PEERS_DIR:-$HERE/.peers}}"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

command -v node >/dev/null || { echo "install_peers: node is missing (make runtimes installs it)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install_peers: npm is missing (make runtimes installs it)" >&2; exit 1; }

if [ ! -x "$DIR/node_modules/.bin/serverless" ] || [ ! -d "$DIR/node_modules/serverless-offline" ]; then
  [ -f "$DIR/package.json" ] || echo '{"private": true}' > "$DIR/package.json"
  npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error serverless@3 serverless-offline@13
fi
if [ ! -d "$DIR/py/lambda_local" ]; then
  "$PYTHON" -m pip install --quiet --target "$DIR/py" python-lambda-local
fi
echo "peers in $DIR:"
echo "  serverless $(node -p "require('$DIR/node_modules/serverless/package.json').version")," \
     "serverless-offline $(node -p "require('$DIR/node_modules/serverless-offline/package.json').version")"
echo "  python-lambda-local $(PYTHONPATH="$DIR/py" "$PYTHON" -c 'import importlib.metadata as m; print(m.version("python-lambda-local"))')"
