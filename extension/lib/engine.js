// @ts-check
// The authoring engine: parses, validates, runs examples and compiles packs (the authoring
// Wasm module, which contains the scanner too). Used by the options page and playground, and
// by the worker only when a user's packs must be compiled from their sources (an import, an
// update, a stored compiled form that was refused). Never by content scripts.

import init, * as wasm from '../pkg/authoring.js';
import { packStateOf } from './storage.js';
import { openScanner } from './scanner.js';

const { Scanner, check_pack, shipped_sources, pack_summaries, compile_sources, list_packs } = wasm;

export { joinPosts, scanBatch, SEPARATOR, CONTEXT_SEPARATOR } from './scanner.js';

let wasmReady = null;

export function loadWasm() {
  wasmReady ??= init({ module_or_path: new URL('../pkg/authoring_bg.wasm', import.meta.url) });
  return wasmReady;
}

const sourcesOf = (packs) => packs.map(({ name, source }) => ({ name, source }));

// The shipped packs' sources: [{ name, source }].
export function shippedPacks() {
  return shipped_sources();
}

// [{ id, name, version } | { errors }] for each source, in order, without compiling.
export function summarize(packs) {
  return pack_summaries(sourcesOf(packs));
}

// { ok, pack, errors, examples: { passed, failures } }.
export function checkPack(source, name) {
  return check_pack(source, name);
}

// Every pack known to the extension, shipped first, each with its parsed id and version and
// whether it is used (`active`; `replaced` when an imported pack has its id). The engine
// decides, as it does when it loads packs.
export function listPacks(state) {
  const shipped = shippedPacks().map((p) => ({ ...p, shipped: true }));
  const user = state.userPacks.map((p, index) => ({ ...p, shipped: false, userIndex: index }));
  const all = [...shipped, ...user];
  const listed = list_packs(sourcesOf(all), allOptions(state));
  return all.map((p, i) => ({
    ...p, file: p.name, // the file name; `name` becomes the pack's own name
    ...(listed[i] ?? { errors: [{ display: 'unreadable pack' }], replaced: false, active: false }),
  }));
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
  return all.filter((p) => p.active);
}

// Every pack source, shipped first, without parsing any of them.
export function allSources(state) {
  return [
    ...shippedPacks().map(({ name, source }) => ({ name, source, shipped: true })),
    ...state.userPacks.map(({ name, source }) => ({ name, source, shipped: false })),
  ];
}

// The settings the engine decides pack use from (EngineSettings in crate/src/wire.rs).
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

// Compiles sources for the scanner: { bytes, failed: [{ name, id, version, shipped, errors }] }.
// Every pack that compiles alone is in `bytes`; whether it is used is decided when an engine
// is built from them.
export function compileSources(sources) {
  const { bytes, failed } = compile_sources(sourcesOf(sources));
  return { bytes, failed: failed.map((f) => failure(sources, f)) };
}

function failure(sources, f) {
  const source = sources.find((s) => s.name === f.origin);
  return { name: f.origin, id: f.id ?? null, version: f.version ?? null, shipped: !!source?.shipped, errors: f.errors };
}

// Compiles packs and builds an engine from them, each pack that works kept even when another
// does not: one bad or oversized pack never takes the others down with it. Returns
// { engine, info, failed: [{ name, id, version, shipped, errors }] } or, when nothing at all
// compiles, { errors, failed }.
/** @returns {Built} */
export function compileAll(state, sources = allSources(state)) {
  return build(sources, allOptions(state));
}

// One line per failed pack, for people: "mine.toml (mine 1.0.0): file:line:col: what is wrong".
export function describeFailures(failed) {
  return failed.map((f) => {
    const label = f.id ? `${f.name} (${f.id}${f.version ? ` ${f.version}` : ''})` : f.name;
    const reasons = (f.errors ?? []).map((e) => e.display ?? e.message ?? String(e));
    return `${label}: ${reasons.slice(0, 3).join('; ')}${reasons.length > 3 ? ` (and ${reasons.length - 3} more)` : ''}`;
  });
}

/**
 * An engine built from packs, or why none could be.
 * @typedef {{ engine?: import('../pkg/authoring.js').Scanner, info?: any[], errors?: any[], failed?: any[] }} Built
 */

// Compiles the given packs; returns { engine, info, failed } or { errors } (with line and column).
/** @returns {Built} */
export function compile(state, packs = activePacks(state)) {
  const built = build(packs, engineOptions(state, packs));
  if (built.failed?.length && !built.errors) {
    built.engine.free();
    return { errors: built.failed.flatMap((f) => f.errors) };
  }
  return built;
}

/** @returns {Built} */
function build(sources, settings) {
  const compiled = compileSources(sources);
  const built = openScanner(Scanner, [compiled.bytes], settings);
  const failed = [...compiled.failed, ...(built.failed ?? []).map((f) => failure(sources, f))];
  if (built.errors) return { errors: failed.length ? failed.flatMap((f) => f.errors) : built.errors, failed };
  if (!built.info.length && failed.length) {
    built.engine.free();
    return { errors: failed.flatMap((f) => f.errors), failed };
  }
  return { ...built, failed };
}
