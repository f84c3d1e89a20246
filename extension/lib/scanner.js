// @ts-check
// The worker's engine: the scanner Wasm module (compiled packs in, verdicts out). It never
// parses a pack; extension/lib/engine.js (the authoring module) compiles sources when a pack
// is imported or a stored compiled form is refused.
//
// Verdicts of a batch come back as four typed arrays (layout in crate/src/wire.rs,
// BatchVerdicts): no per-post objects and no JSON cross the boundary on the hot path.

import initScanner, { Scanner, source_digest as sourceDigestWasm } from '../pkg/scanner.js';
import { LIMITS } from './limits.js';

export { Scanner };

// Posts are joined with U+001E. A post with context (its channel, group or thread title) is
// written as context + U+001F + text; span offsets in verdicts refer to the text alone. Either
// separator inside a context or a text becomes a space, which keeps every UTF-16 offset in place.
export const SEPARATOR = LIMITS.postSeparator;
export const CONTEXT_SEPARATOR = LIMITS.contextSeparator;
const SEPARATORS = new RegExp(`[${SEPARATOR}${CONTEXT_SEPARATOR}]`, 'g');
const POST_FIELDS = 4;
const HIT_FIELDS = 5;

let ready = null;

export function loadScanner() {
  ready ??= initScanner({ module_or_path: new URL('../pkg/scanner_bg.wasm', import.meta.url) });
  return ready;
}

// The shipped packs, compiled when the extension was built.
export async function shippedCompiled() {
  const response = await fetch(new URL('../pkg/shipped.fpk', import.meta.url));
  if (!response.ok) throw new Error(`shipped packs: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// The engine built from the shipped packs with default settings, as an image: loading it
// skips building the engine when the user has no packs of their own and changed nothing.
// Null when it cannot be read (the engine is then built).
export async function shippedImage() {
  try {
    const response = await fetch(new URL('../pkg/shipped.engine', import.meta.url));
    return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
  } catch {
    return null;
  }
}

export function sourceDigest(source) {
  return sourceDigestWasm(source);
}

// Builds an engine from compiled packs (shipped first, then the user's). Which packs are in
// use is decided inside the engine from `settings` (EngineSettings). Returns
// { engine, info, failed } or { errors } (each error with kind, origin, line, column, display).
// `Kind` is the Scanner class of whichever module is loaded (the options page has the
// authoring module, which contains the scanner too).
export function openScanner(Kind, blobs, settings, image = undefined) {
  try {
    const engine = new Kind(blobs, settings, image ?? undefined);
    return { engine, info: engine.packs(), failed: engine.failed() };
  } catch (e) {
    return { errors: Array.isArray(e) ? e : [{ display: String(e), message: String(e) }] };
  }
}

const clean = (s) => (s.includes(SEPARATOR) || s.includes(CONTEXT_SEPARATOR) ? s.replace(SEPARATORS, ' ') : s);

export function joinPosts(texts, contexts = null) {
  return texts.map((t, i) => {
    const context = contexts?.[i];
    return context ? clean(context) + CONTEXT_SEPARATOR + clean(t) : clean(t);
  }).join(SEPARATOR);
}

// Scans posts and returns per-post results for the posts where any rule fired, which content
// scripts render without the engine's tables:
// [{ i, flagged, score, truncated, rules: [...], shadow: [...] }].
export function scanBatch(engine, info, texts, contexts = null) {
  const listed = engine.scan_batch(joinPosts(texts, contexts));
  if (!listed) return [];
  const posts = engine.posts();
  const scores = engine.scores();
  const hits = engine.hits();
  const spans = engine.spans();
  const out = [];
  for (let p = 0; p < listed; p++) {
    const at = p * POST_FIELDS;
    const flags = posts[at + 1];
    const rules = [];
    const shadow = [];
    for (let h = posts[at + 2], end = h + posts[at + 3]; h < end; h++) {
      const hat = h * HIT_FIELDS;
      const pack = info[hits[hat]];
      const rule = pack?.rules[hits[hat + 1]];
      if (!rule) continue;
      const list = [];
      for (let s = hits[hat + 3], send = s + hits[hat + 4]; s < send; s++) list.push([spans[2 * s], spans[2 * s + 1]]);
      const hit = {
        id: rule.id, pack: pack.id, packVersion: pack.version, category: rule.category,
        severity: rule.severity, weight: rule.weight, description: rule.description, spans: list,
      };
      (hits[hat + 2] ? shadow : rules).push(hit);
    }
    out.push({ i: posts[at], flagged: (flags & 1) === 1, score: scores[p], truncated: (flags & 2) === 2, rules, shadow });
  }
  return out;
}
