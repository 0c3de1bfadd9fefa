#!/usr/bin/env bash
# Installs Azurite (npm `azurite`), Microsoft's local Azure Storage server, whose blob service
# the azure state backend is tested against (tests/integration/azurite.rs), into
# target/azurite, where the tests look for it. It answers Azure's conditional writes
# (`If-None-Match: *`, `If-Match`) as Azure does.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="3.37.0"
DIR="target/azurite"
MAIN="$DIR/node_modules/azurite/dist/src/blob/main.js"

if [ -f "$MAIN" ] && grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/azurite/package.json" 2>/dev/null; then
    echo "azurite $VERSION already installed in $DIR"
    exit 0
fi

mkdir -p "$DIR"
npm install --silent --no-audit --no-fund --prefix "$DIR" "azurite@$VERSION"
test -f "$MAIN"
echo "azurite ready"
