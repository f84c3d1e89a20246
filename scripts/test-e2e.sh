#!/usr/bin/env bash
# End-to-end tests of the browser extension: headless Chromium (Playwright) and firefox-esr
# (geckodriver), plus web-ext lint and the extension's plain modules. Ends with the line
# "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund

# Rebuild when any extension source is newer than the last build. The tests use the test build
# with page markers (dist/test-markers/) and check the build users install (dist/) beside it.
stamp=dist/test-markers/chrome/manifest.json
if [ ! -f "$stamp" ] || [ ! -f dist/chrome/manifest.json ] ||
  [ -n "$(find manifest.json _locales extension crate/src crate/Cargo.toml -newer "$stamp" -type f -not -path 'extension/pkg/*' 2>/dev/null | head -1)" ]; then
  FLAGPOST_TEST_MARKERS=1 bash scripts/build-extension.sh || { echo "0 passed, 1 failed"; exit 1; }
fi

tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
timeout 600 node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  tests/e2e/
status=$?

passed=$(grep -c '^ok ' "$tap" || true)
failed=$(grep -c '^not ok ' "$tap" || true)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
