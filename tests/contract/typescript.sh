#!/usr/bin/env bash
# A TypeScript client generated from the committed document compiles, and so
# does a small file that uses it as a front end would (client.ts).
#
#   bash tests/contract/typescript.sh        (needs node and npm; not in CI)
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund openapi-typescript@7 typescript@5 >/dev/null
npx openapi-typescript "$OLDPWD/openapi/openapi.json" -o memberd.d.ts
cp "$OLDPWD/tests/contract/client.ts" .
npx tsc --noEmit --strict --target es2022 --module es2022 --moduleResolution bundler client.ts memberd.d.ts
echo "the generated client and tests/contract/client.ts compile"
