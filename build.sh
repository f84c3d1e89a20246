#!/usr/bin/env bash
# Flagpost's one entry point.
#
#   ./build.sh            set up what is missing, build the command line and the extension, and
#                         scan the bundled sample (samples/posts.jsonl), printing flagged posts
#   ./build.sh setup      install what a fresh machine lacks (idempotent)
#   ./build.sh build      build the command line (target/release/flagpost) and the extension
#                         (extension/pkg/, dist/chrome/, dist/firefox/, dist/*.zip); with
#                         FLAGPOST_TEST_MARKERS=1 also the test build with page markers that
#                         the end-to-end tests use (dist/test-markers/), never for installing
#   ./build.sh test       every test: ESLint, format, lints, the wasm32 builds, Rust tests, the
#                         shipped pack's examples and targets, Spark, the extension's type-check,
#                         and the browser end-to-end tests
#   ./build.sh spark      flagpost scan and compare inside Apache Spark (local mode) over the
#                         sample and the corpus tweets, checked against the command line
#   ./build.sh bench      native, scale (10 million posts), Spark and in-browser benchmarks;
#                         figures go into BENCHMARKS.md
#   ./build.sh fuzz       long property runs of the normaliser and engine (minutes)
#   ./build.sh package    the store zips (same as build)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
CORPUS=${FLAGPOST_CORPUS:-$ROOT/../shared/corpus}

say() { printf '\n==> %s\n' "$*"; }

# Spark 4 needs a Java 17 or later runtime.
java_ok() {
  java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); found = 1; exit !(v[1] >= 17) } END { if (!found) exit 1 }'
}

# What ./build.sh spark needs: a Java runtime (Debian's default-jre-headless) and the pyspark
# pinned, with hashes, in scripts/spark/requirements.txt.
setup_spark() {
  if ! java_ok; then
    say "apt-get install default-jre-headless"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq default-jre-headless
  fi
  local want have
  want=$(sed -n 's/^pyspark==\([^ ]*\).*/\1/p' scripts/spark/requirements.txt)
  have=$(python3 -c 'import pyspark; print(pyspark.__version__)' 2>/dev/null || true)
  if [ "$have" != "$want" ]; then
    say "pip install pyspark $want (scripts/spark/requirements.txt)"
    python3 -m pip install --quiet --disable-pip-version-check --require-hashes -r scripts/spark/requirements.txt
  fi
}

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

setup() {
  if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
    say "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  local want have
  want=$(wasm_bindgen_version)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
  if [ "$have" != "$want" ]; then
    say "cargo install wasm-bindgen-cli $want"
    # --locked first; if a pinned dependency of the tool is no longer on the registry, let
    # cargo pick compatible ones.
    cargo install wasm-bindgen-cli --version "$want" --locked ||
      cargo install wasm-bindgen-cli --version "$want"
  fi
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  # The browsers' own translations: the end-to-end tests run Chromium and Firefox in Ukrainian.
  [ -f /usr/lib/chromium/locales/uk.pak ] || missing+=(chromium-l10n)
  [ -f /usr/lib/firefox-esr/browser/extensions/langpack-uk@firefox-esr.mozilla.org.xpi ] || missing+=(firefox-esr-l10n-uk)
  command -v firefox-esr >/dev/null || missing+=(firefox-esr)
  command -v zip >/dev/null || missing+=(zip)
  java_ok || missing+=(default-jre-headless)
  if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
  fi
  if ! command -v geckodriver >/dev/null && [ ! -x "$HOME/.cargo/bin/geckodriver" ]; then
    say "cargo install geckodriver"
    cargo install geckodriver --locked || cargo install geckodriver
  fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci"
    npm ci --no-audit --no-fund
  fi
  setup_spark
}

# flagpost scan and compare inside Spark in local mode, over the sample and the corpus tweets;
# fails unless the verdicts are the command line's.
spark() {
  setup_spark
  cargo build --release --bin flagpost
  say "unit tests of the Spark job (splits, counts, comparisons)"
  python3 -m unittest discover -s scripts/spark
  say "Spark local mode: flagpost scan and compare in Spark against the command line"
  local packs=()
  for f in extension/packs/*.toml; do packs+=(--pack "$f"); done
  python3 scripts/spark/flagpost_spark.py check --master "local[$(nproc)]" \
    --flagpost target/release/flagpost "${packs[@]}" \
    --sample samples/posts.jsonl --corpus "$CORPUS/ira-tweets-*.jsonl.gz"
}

build() {
  say "cargo build --release (command line)"
  cargo build --release --bin flagpost
  say "extension"
  bash scripts/build-extension.sh
}

main_job() {
  setup
  build
  say "flagpost lint and test on the shipped packs"
  target/release/flagpost lint extension/packs/*.toml
  target/release/flagpost test extension/packs/*.toml | tail -1
  say "flagpost scan --explain < samples/posts.jsonl"
  target/release/flagpost scan --explain < samples/posts.jsonl
  local total flagged
  total=$(grep -c . samples/posts.jsonl)
  flagged=$(target/release/flagpost scan --flagged-only < samples/posts.jsonl | grep -c . || true)
  printf '\n%s of %s sample posts flagged. The extension is in dist/chrome/ and dist/firefox/ (see docs/USING.md).\n' \
    "$flagged" "$total"
}

run_tests() {
  setup
  say "ESLint: the extension, tests and scripts"
  npm run --silent lint
  say "cargo fmt --check"
  cargo fmt --all -- --check
  say "cargo clippy -D warnings"
  cargo clippy --all-targets --profile ci -- -D warnings
  say "cargo clippy -D warnings, wasm32: the scanner and the authoring module"
  cargo clippy --lib --profile ci --target wasm32-unknown-unknown -p flagpost --no-default-features -- -D warnings
  cargo clippy --lib --profile ci --target wasm32-unknown-unknown -p flagpost -- -D warnings
  say "cargo doc -D warnings"
  RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p flagpost --lib
  say "cargo test"
  cargo test --profile ci
  say "shipped packs: lint, examples, labelled quotes"
  cargo build --release --bin flagpost
  local fp=target/release/flagpost
  $fp lint extension/packs/*.toml
  $fp test extension/packs/*.toml | tail -1
  local labelled=()
  for f in crate/testdata/corpus/*.jsonl; do labelled+=(--labelled "$f"); done
  # Regression floors on the rows the pack was written from (as in crate/tests/shipped.rs).
  $fp eval "${labelled[@]}" --filter needs_context=false --folds 5 --min-precision 0.9 --min-recall 0.71 | sed -n '1,13p'
  $fp test crate/testdata/packs/*.toml | tail -1
  if [ -d "$CORPUS" ] && ls "$CORPUS"/ira-tweets-*.jsonl.gz >/dev/null 2>&1; then
    say "flag rate on the corpus tweets (at most 1 in 10,000)"
    local total flagged
    total=$(zcat "$CORPUS"/ira-tweets-*.jsonl.gz | grep -c .)
    flagged=$(zcat "$CORPUS"/ira-tweets-*.jsonl.gz | $fp scan --flagged-only | grep -c . || true)
    echo "$flagged of $total tweets flagged"
    if [ $((flagged * 10000)) -gt "$total" ]; then
      echo "flag rate above 1 in 10,000" >&2
      exit 1
    fi
  else
    echo "corpus tweets not found at $CORPUS; flag-rate check not run"
  fi
  spark
  say "extension: build, then type-check it (tsc, against the engine's declarations)"
  FLAGPOST_TEST_MARKERS=1 bash scripts/build-extension.sh
  npm run --silent typecheck
  say "browser end-to-end tests"
  bash scripts/test-e2e.sh
}

bench() {
  setup
  cargo build --release --bin flagpost
  local sample
  sample=$(mktemp --suffix=.jsonl)
  trap 'rm -f "$sample"' RETURN
  zcat "$CORPUS"/ira-tweets-*.jsonl.gz > "$sample"
  say "native: flagpost bench over the corpus tweets"
  target/release/flagpost bench --runs 7 --json "$sample" > target/bench-native.json
  local stream_kib=""
  if [ -x /usr/bin/time ]; then
    stream_kib=$({ /usr/bin/time -f %M target/release/flagpost scan < "$sample" > /dev/null; } 2>&1 | tail -1)
  fi
  node scripts/write-native-bench.mjs target/bench-native.json BENCHMARKS.md "$stream_kib"
  say "Spark local mode against the single-thread command line"
  python3 scripts/spark/flagpost_spark.py bench --flagpost target/release/flagpost \
    --input "$CORPUS/ira-tweets-*.jsonl.gz" --repeat 8 --cores "$(nproc)" --runs 3 > target/bench-spark.json
  say "scale: flagpost scan on 1, 4 and 10 million posts generated from the corpus tweets"
  python3 scripts/scale-bench.py --flagpost target/release/flagpost --corpus "$CORPUS" \
    --base 1000000 --scales 1,4,10 --json target/bench-scale.json \
    --spark-json target/bench-spark.json --write BENCHMARKS.md > /dev/null
  say "extension: headless Chromium"
  bash scripts/bench-extension.sh
}

fuzz() {
  say "long property runs (PROPTEST_CASES=${PROPTEST_CASES:=50000})"
  PROPTEST_CASES=$PROPTEST_CASES cargo test --profile ci --test properties -- --nocapture
}

case "${1:-}" in
  "") main_job ;;
  setup) setup ;;
  build | package) setup; build ;;
  test) run_tests ;;
  spark) spark ;;
  bench) bench ;;
  fuzz) fuzz ;;
  *) echo "usage: ./build.sh [setup|build|test|spark|bench|fuzz|package]" >&2; exit 2 ;;
esac
