#!/usr/bin/env bash
# Builds the Wasm engine into extension/pkg/ and assembles dist/chrome/, dist/firefox/ and
# their store zips from the root manifest.json: the build users install, which leaves nothing
# on a page that says what Flagpost found.
#
# With FLAGPOST_TEST_MARKERS=1 it also assembles the test build in dist/test-markers/chrome,
# dist/test-markers/firefox and dist/test-markers/flagpost-firefox.zip: the same extension with
# the page markers the end-to-end tests read (data-flagpost="flagged|clean",
# data-flagpost-rules, data-flagpost-score, a <flagpost-warning> host). It is never zipped for
# a store and never replaces dist/chrome or dist/firefox.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '==> %s\n' "$*" >&2; }

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ -z "$want" ]; then
  echo "wasm-bindgen is not in Cargo.lock" >&2
  exit 1
fi
if [ "$have" != "$want" ]; then
  echo "wasm-bindgen-cli $want is needed (found: ${have:-none}); install it with:" >&2
  echo "  cargo install wasm-bindgen-cli --version $want --locked" >&2
  exit 1
fi

# Two Wasm modules come from the crate: the scanner the worker loads (compiled packs in,
# verdicts out; built without the `authoring` feature) and the authoring module for the
# options page (parse, validate, run examples, compile). They are rebuilt when missing or when
# the engine's sources are newer; otherwise only the extension's files are assembled again.
pkg_wasm=extension/pkg/authoring_bg.wasm
if [ ! -f "$pkg_wasm" ] || [ ! -f extension/pkg/scanner_bg.wasm ] || [ ! -f extension/pkg/scanner.d.ts ] || [ ! -f extension/pkg/authoring.d.ts ] || [ -n "$(find crate extension/packs Cargo.toml Cargo.lock package-lock.json -newer "$pkg_wasm" -type f 2>/dev/null | head -1)" ]; then
# SIMD128 (all supported browsers have it) speeds up the byte searches inside the engine.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:--C target-feature=+simd128}"
rm -rf extension/pkg
mkdir -p extension/pkg

# wasm-opt: the npm binaryen package (pinned in package-lock.json) is preferred. Debian's
# wasm-opt 108 accepts the module but breaks its externref table (wasm-bindgen's reference
# types), so an older system wasm-opt is not used.
WASM_OPT=
if [ -x node_modules/.bin/wasm-opt ]; then
  WASM_OPT=node_modules/.bin/wasm-opt
elif command -v wasm-opt >/dev/null; then
  v=$(wasm-opt --version | grep -o '[0-9]\+' | head -1)
  if [ "${v:-0}" -ge 116 ]; then WASM_OPT=wasm-opt; fi
fi
OPT_FLAGS=(--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue --strip-debug --strip-producers)

# wasm_module NAME PROFILE LEVEL CARGO_FLAGS...: builds, binds and optimises one module.
wasm_module() {
  local name=$1 profile=$2 level=$3
  shift 3
  say "cargo build --profile $profile $* (wasm32-unknown-unknown): $name"
  cargo build --profile "$profile" --target wasm32-unknown-unknown -p flagpost --lib "$@"
  # The TypeScript declarations it writes (pkg/*.d.ts) are what `npm run typecheck` checks the
  # extension's calls into the engine against; they are not shipped.
  wasm-bindgen --target web --out-dir extension/pkg --out-name "$name" \
    "target/wasm32-unknown-unknown/$profile/flagpost.wasm"
  local raw=extension/pkg/${name}_bg.wasm opt=extension/pkg/${name}_bg.opt.wasm
  if [ -n "$WASM_OPT" ] && "$WASM_OPT" "$level" "${OPT_FLAGS[@]}" "$raw" -o "$opt"; then
    mv "$opt" "$raw"
  else
    echo "warning: no usable wasm-opt (run 'npm ci'); shipping the unoptimised $name module" >&2
    rm -f "$opt"
  fi
  printf 'wasm %s: %s bytes, %s gzipped\n' "$name" "$(stat -c %s "$raw")" "$(gzip -9c "$raw" | wc -c)" >&2
}
say "wasm-bindgen $have, wasm-opt: ${WASM_OPT:-none}"
# Profiles in Cargo.toml: `wasm-scanner` (built for speed: it scans every post) for the
# worker's module, `wasm` (size-tuned) for the authoring module.
wasm_module scanner wasm-scanner -O3 --no-default-features
wasm_module authoring wasm -O3
else
  say "extension/pkg is up to date with the engine's sources"
fi

# The shipped packs compiled for the scanner (extension/pkg/shipped.fpk) and the limits the
# content scripts and the worker share, both from the modules just built; then the scanner
# must load those packs and flag a known post.
node scripts/after-wasm.mjs extension

# The content scripts' copy of the message protocol (extension/lib/protocol.js says why).
say "extension/content/protocol.js"
node scripts/write-content-protocol.mjs

# assemble BROWSER OUT VARIANT: copies the extension and writes its manifest.
assemble() {
  local browser=$1 out=$2 variant=$3
  rm -rf "$out"
  mkdir -p "$out/extension"
  # Shipped packs are compiled into the Wasm module; the pack sources are not needed twice.
  # Type declarations are for the type-check only.
  (cd extension && tar --exclude=./packs --exclude='./icons/*.svg' --exclude=./types --exclude='./pkg/*.d.ts' -cf - .) | (cd "$out/extension" && tar -xf -)
  cp -r _locales "$out/_locales"
  local flags=$out/extension/content/build.js
  if [ "$variant" = test ]; then
    sed -i 's/testMarkers: false/testMarkers: true/' "$flags"
    grep -q 'testMarkers: true' "$flags" || { echo "could not switch on test markers in $flags" >&2; exit 1; }
  elif ! grep -q 'testMarkers: false' "$flags"; then
    echo "$flags must have testMarkers: false in the build users install" >&2
    exit 1
  fi
  node - "$browser" "$ROOT/manifest.json" "$out/manifest.json" "$variant" <<'EOF'
const fs = require('node:fs');
const [browser, input, output, variant] = process.argv.slice(2);
const manifest = JSON.parse(fs.readFileSync(input, 'utf8'));
if (variant === 'test') {
  // The test build also runs on the fixture server (127.0.0.1) without asking.
  manifest.name = 'Flagpost (test build with page markers)';
  manifest.host_permissions.push('http://127.0.0.1/*');
  for (const cs of manifest.content_scripts) cs.matches.push('http://127.0.0.1/*');
}
const worker = manifest.background.service_worker ?? manifest.background.scripts[0];
if (browser === 'chrome') {
  manifest.background = { service_worker: worker, type: 'module' };
  delete manifest.browser_specific_settings;
} else {
  manifest.background = { scripts: [worker], type: 'module' };
  if (!manifest.browser_specific_settings?.gecko?.id) throw new Error('manifest.json needs browser_specific_settings.gecko.id');
}
fs.writeFileSync(output, JSON.stringify(manifest, null, 2) + '\n');
EOF
}

say "dist/chrome, dist/firefox"
rm -rf dist/flagpost-chrome.zip dist/flagpost-firefox.zip dist/test-markers
for browser in chrome firefox; do
  assemble "$browser" "dist/$browser" user
  (cd "dist/$browser" && zip -qr -X "../flagpost-$browser.zip" .)
done
say "built dist/chrome, dist/firefox, dist/flagpost-chrome.zip, dist/flagpost-firefox.zip"
if [ "${FLAGPOST_TEST_MARKERS:-0}" = 1 ]; then
  for browser in chrome firefox; do
    assemble "$browser" "dist/test-markers/$browser" test
  done
  (cd dist/test-markers/firefox && zip -qr -X ../flagpost-firefox.zip .)
  say "built the test build with page markers: dist/test-markers/chrome, dist/test-markers/firefox"
fi
