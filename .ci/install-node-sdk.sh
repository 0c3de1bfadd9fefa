#!/usr/bin/env bash
# Installs the official Descope Node SDK that crates/descope-emulator/tests/node/conformance.mjs
# drives against the emulator. package.json pins the SDK exactly and package-lock.json pins every
# transitive dependency with its integrity hash; `npm ci` installs exactly that tree (and fails
# when the two disagree), so CI runs the SDK build that was checked in.
set -euo pipefail
cd "$(dirname "$0")/../crates/descope-emulator/tests/node"

want="$(node -p 'require("./package.json").dependencies["@descope/node-sdk"]')"
have="$(node -p 'require("./node_modules/@descope/node-sdk/package.json").version' 2>/dev/null || true)"
# npm writes node_modules/.package-lock.json on every install: newer than the lock means current.
if [ "$have" = "$want" ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    echo "@descope/node-sdk $want already installed"
    exit 0
fi

npm ci --no-audit --no-fund --loglevel=error
node --input-type=module -e 'import DescopeClient from "@descope/node-sdk"; if (typeof DescopeClient !== "function") process.exit(1);'
echo "@descope/node-sdk $want ready"
