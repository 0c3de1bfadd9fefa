#!/usr/bin/env bash
# Installs the official Descope Python SDK that crates/descope-emulator/tests/python/conformance.py
# drives against the emulator (docs/descope-api.md §10.9). descope 2.16.1 pins certifi>=2026.10.19,
# which the registry may not carry yet, so the SDK goes in without its pins and its imports are
# installed beside it:
# httpx (transport), certifi (TLS roots), pyjwt[crypto] (session tokens), email-validator.
# flask is only an extra for descope.flask, which the conformance test does not import.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The conformance test runs `python3` from PATH, so the SDK goes into that interpreter even where
# the distribution marks it externally managed (PEP 668, Debian 12 and later).
export PIP_BREAK_SYSTEM_PACKAGES=1
pip_install() { "$PYTHON" -m pip install --quiet --root-user-action=ignore "$@"; }

if "$PYTHON" - <<'PY' 2>/dev/null; then
import importlib.metadata as m, sys
import descope  # noqa: F401
sys.exit(0 if m.version("descope") == "2.16.1" else 1)
PY
    echo "descope 2.16.1 already installed"
    exit 0
fi

pip_install --no-deps 'descope==2.16.1'
pip_install 'httpx>=0.28,<0.29' certifi 'pyjwt[crypto]>=2.4.0' 'email-validator>=2,<3'
"$PYTHON" -c 'import descope; from descope import DescopeClient; print("descope SDK ready")'
