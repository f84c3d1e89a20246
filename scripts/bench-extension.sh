#!/usr/bin/env bash
# Benchmarks the extension in headless Chromium and writes the figures into BENCHMARKS.md
# under "## Extension (headless Chromium)".
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
# The feed figures time the page markers, so the benchmark runs the test build (same code,
# markers on).
stamp=dist/test-markers/chrome/manifest.json
if [ ! -f "$stamp" ] || [ -n "$(find manifest.json extension crate/src crate/Cargo.toml -newer "$stamp" -type f -not -path 'extension/pkg/*' 2>/dev/null | head -1)" ]; then
  FLAGPOST_TEST_MARKERS=1 bash scripts/build-extension.sh
fi
node tests/bench/bench.mjs
