// @ts-check
// Loads the Wasm engine and compiles the enabled packs. Used by the background and by
// extension pages (options playground, pack import), never by content scripts.

import init, * as wasm from '../pkg/flagpost.js';
import { packStateOf } from './storage.js';

const { WasmEngine, check_pack, shipped_packs, pack_summaries } = wasm;

let wasmReady = null;

export function loadWasm() {
  wasmReady ??= init({ module_or_path: new URL('../pkg/flagpost_bg.wasm', import.meta.url) });
  return wasmReady;
}

export function shippedPacks() {
  return JSON.parse(shipped_packs());
}

export function summarize(packs) {
  return JSON.parse(pack_summaries(JSON.stringify(packs.map(({ name, source }) => ({ name, source })))));
}

export function checkPack(source, name) {
  return JSON.parse(check_pack(source, name));
}

// Every pack known to the extension, shipped first, each with its parsed id and version.
// An imported pack with the id of a shipped one replaces it (a newer or edited version).
export function listPacks(state) {
  const shipped = shippedPacks().map((p) => ({ ...p, shipped: true }));
  const user = state.userPacks.map((p, index) => ({ ...p, shipped: false, userIndex: index }));
  const all = [...shipped, ...user];
  for (const p of all) p.file = p.name; // the file name; `name` becomes the pack's own name
  const summaries = summarize(all);
  all.forEach((p, i) => Object.assign(p, summaries[i] ?? { errors: [{ display: 'unreadable pack' }] }));
  const userIds = new Set(user.filter((p) => p.id).map((p) => p.id));
  for (const p of all) p.replaced = p.shipped && userIds.has(p.id);
  return all;
}

export function engineOptions(state, packs) {
  const disabledRules = [];
  const shadowPacks = [];
  for (const p of packs) {
    const st = packStateOf(state, p.id);
    for (const r of st.disabledRules) disabledRules.push([p.id, r]);
    if (st.shadow) shadowPacks.push(p.id);
  }
  return { disabledRules, shadowPacks, threshold: state.settings.threshold, disabledCategories: state.settings.disabledCategories ?? [] };
}

export function activePacks(state, all = listPacks(state)) {
  return all.filter((p) => p.id && !p.replaced && packStateOf(state, p.id).enabled);
}

// Every pack source, shipped first, without parsing any of them.
export function allSources(state) {
  return [
    ...shippedPacks().map(({ name, source }) => ({ name, source, shipped: true })),
    ...state.userPacks.map(({ name, source }) => ({ name, source, shipped: false })),
  ];
}

export function allOptions(state) {
  const disabledRules = [];
  const shadowPacks = [];
  const disabledPacks = [];
  for (const [id, st] of Object.entries(state.packState)) {
    for (const r of st.disabledRules) disabledRules.push([id, r]);
    if (st.shadow) shadowPacks.push(id);
    if (!st.enabled) disabledPacks.push(id);
  }
  return {
    disabledRules, shadowPacks, disabledPacks, threshold: state.settings.threshold,
    disabledCategories: state.settings.disabledCategories ?? [],
  };
}

// Compiles packs in one pass inside the engine (each parsed once): switched-off packs are
// left out by id and an imported pack replaces a shipped one with the same id.
//
// When the set does not compile, packs are compiled again one at a time, in order (shipped
// first, then imports oldest first), and each pack that still compiles beside those already
// kept is kept: one bad or oversized pack never takes the others down with it. Returns
// { engine, info, failed: [{ name, id, version, shipped, errors }] } or, when nothing at all
// compiles, { errors, failed }.
export function compileAll(state, sources = allSources(state)) {
  const options = allOptions(state);
  const whole = build(sources, options);
  if (!whole.errors) return { ...whole, failed: [] };
  const names = summarize(sources);
  const kept = [];
  const failed = [];
  sources.forEach((source, i) => {
    const trial = build([...kept, source], options);
    if (trial.errors) {
      const summary = names[i] ?? {};
      failed.push({ name: source.name, id: summary.id ?? null, version: summary.version ?? null, shipped: !!source.shipped, errors: trial.errors });
    } else {
      kept.push(source);
      trial.engine.free();
    }
  });
  const built = build(kept, options);
  if (built.errors) return { errors: built.errors, failed };
  return { ...built, failed };
}

// One line per failed pack, for people: "mine.toml (mine 1.0.0): file:line:col: what is wrong".
export function describeFailures(failed) {
  return failed.map((f) => {
    const label = f.id ? `${f.name} (${f.id}${f.version ? ` ${f.version}` : ''})` : f.name;
    const reasons = (f.errors ?? []).map((e) => e.display ?? e.message ?? String(e));
    return `${label}: ${reasons.slice(0, 3).join('; ')}${reasons.length > 3 ? ` (and ${reasons.length - 3} more)` : ''}`;
  });
}

// Compiles the given packs; returns { engine, info } or { errors } (with line and column).
export function compile(state, packs = activePacks(state)) {
  return build(packs, engineOptions(state, packs));
}

// Categories switched off in the options become switched-off rules: the engine is compiled,
// the rules of those categories are read from its tables, and it is compiled again without
// them (only when some rule in use has such a category).
function build(packs, options) {
  const { disabledCategories = [], ...engineOptions } = options;
  const first = buildOnce(packs, engineOptions);
  if (first.errors || !disabledCategories.length) return first;
  const off = new Set(disabledCategories);
  const extra = [];
  for (const pack of first.info) {
    for (const rule of pack.rules) if (rule.enabled && off.has(rule.category)) extra.push([pack.id, rule.id]);
  }
  if (!extra.length) return first;
  first.engine.free();
  return buildOnce(packs, { ...engineOptions, disabledRules: [...(engineOptions.disabledRules ?? []), ...extra] });
}

function buildOnce(packs, options) {
  try {
    const engine = new WasmEngine(
      JSON.stringify(packs.map(({ name, source }) => ({ name, source }))),
      JSON.stringify(options),
    );
    return { engine, info: JSON.parse(engine.info()) };
  } catch (e) {
    let errors;
    try { errors = JSON.parse(String(e)); } catch { errors = [{ display: String(e), message: String(e) }]; }
    return { errors };
  }
}

// Posts are joined with U+001E. A post with context (its channel, group or thread title) is
// written as context + U+001F + text; span offsets in verdicts refer to the text alone. Either
// separator inside a context or a text becomes a space, which keeps every UTF-16 offset in place.
export const SEPARATOR = '\u001e';
export const CONTEXT_SEPARATOR = '\u001f';
// eslint-disable-next-line no-control-regex -- the separators are control characters
const SEPARATORS = /[\u001e\u001f]/g;

const clean = (s) => (s.includes(SEPARATOR) || s.includes(CONTEXT_SEPARATOR) ? s.replace(SEPARATORS, ' ') : s);

export function joinPosts(texts, contexts = null) {
  return texts.map((t, i) => {
    const context = contexts?.[i];
    return context ? clean(context) + CONTEXT_SEPARATOR + clean(t) : clean(t);
  }).join(SEPARATOR);
}

// Whether the loaded engine reads a post's context before U+001F (and counts spans in the text
// after it). An engine that does not would read the context as part of the text and shift
// every span, so contexts are only sent to one that says it does.
export function engineTakesContext(module = wasm) {
  try {
    return typeof module.context_separator === 'function' && module.context_separator() === CONTEXT_SEPARATOR;
  } catch {
    return false;
  }
}

// Compact batch verdicts → per-post results that content scripts can render without the
// engine's tables: [{ i, flagged, score, truncated, rules: [...], shadow: [...] }].
export function expandBatch(compact, info) {
  const out = [];
  for (const [i, flagged, score, truncated, hits] of JSON.parse(compact)) {
    const rules = [];
    const shadow = [];
    for (const [packIndex, ruleIndex, isShadow, flat] of hits) {
      const pack = info[packIndex];
      const rule = pack?.rules[ruleIndex];
      if (!rule) continue;
      const spans = [];
      for (let k = 0; k + 1 < flat.length; k += 2) spans.push([flat[k], flat[k + 1]]);
      const hit = {
        id: rule.id, pack: pack.id, packVersion: pack.version, category: rule.category,
        severity: rule.severity, weight: rule.weight, description: rule.description, spans,
      };
      (isShadow ? shadow : rules).push(hit);
    }
    out.push({ i, flagged: flagged === 1, score, truncated: truncated === 1, rules, shadow });
  }
  return out;
}
