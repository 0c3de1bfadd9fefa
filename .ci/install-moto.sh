#!/usr/bin/env bash
# Installs moto_server (PyPI `moto[server]`), the S3-compatible server the object-storage state
# tests start on 127.0.0.1 (tests/integration/moto.rs), into a virtualenv of its own at
# target/moto-venv (or $MOTO_VENV), where the tests look for it. moto 5.2 answers S3's
# conditional writes (`If-None-Match: *`, `If-Match`) with 412, which the lock and the
# compare-and-swap of state.json rely on.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${MOTO_VENV:-target/moto-venv}"
VERSION="5.2.1"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" - "$VERSION" <<'PY' 2>/dev/null; then
import importlib.metadata as m, sys
sys.exit(0 if m.version("moto") == sys.argv[1] else 1)
PY
    echo "moto $VERSION already installed in $VENV"
    exit 0
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet "moto[server]==$VERSION"
"$VENV/bin/python" -c 'import moto.server; print("moto_server ready")'
