// @ts-check
// Settings and user packs in storage.local, with a schema version and migrations.
//
// Stored keys (one key per concern, so a write of one never clobbers another):
//   schema       number — SCHEMA_VERSION
//   settings     { mode, threshold, disabledSites, language, disabledCategories, autoUpdate,
//                  extraSites: origin patterns the user added (and the browser granted) }
//   userPacks    [{ name, source, bom, importedAt, subscription?, history? }]  — imported pack
//                files, kept verbatim; subscription: { url, publicKey, checkedAt, error, hold };
//                history: earlier versions [{ version, source, bom, installedAt }], newest first
//   packState    { [packId]: { enabled, shadow, disabledRules: [ruleId] } }
//   marks        { [key]: { text, url, label, rules, packs, time, context?, missed? } }  —
//                moderator labels; `missed` marks a post Flagpost did not flag
//   dismissed    { [key]: time }  — posts whose warning was dismissed (per site and text)
//   hitCounts    { [packId + "/" + ruleId]: number }  — rule hits in every mode, since countsSince
//   countsSince  time the counts were last reset
//   trialHits    [{ pack, packVersion, text, context, url, rules, score, time }]  — posts a
//                count-only pack would have flagged, newest last
//   shadowCounts (older versions: hits of count-only packs; read into hitCounts)
//
// Data written by a newer version of Flagpost (a higher schema number, e.g. after a downgrade
// or from a synced profile) is read as far as this version understands it and never written
// back in an older form: no migration, no lowered schema number, and fields this version does
// not know are carried along untouched in every object it saves.

import { api, isQuotaError } from './browser.js';
import { t } from './i18n.js';
import { PROTOCOL } from './protocol.js';

function explain(key, detail) {
  const text = t(key, detail);
  if (text !== key) return text;
  return key === 'errStorageFull'
    ? `Not saved: the extension's storage is full (${detail}). Delete imported packs or export and clear marks, then try again.`
    : `Not saved: ${detail}`;
}

export const SCHEMA_VERSION = 2;
// Lists that values read from storage or forms are tested against.
/** @type {readonly string[]} */
export const MODES = PROTOCOL.modes;

export const LANGUAGES = Object.freeze(['auto', ...PROTOCOL.locales]);
export const MAX_DISMISSED = 5000;
export const MAX_TRIAL_HITS = 500;
export const MAX_HISTORY = 5;

/**
 * What settings hold once read (cleanSettings); fields of newer versions are carried along.
 * @typedef {{ mode: import('./protocol.js').DisplayMode, threshold: number | null, disabledSites: string[],
 *   language: string, disabledCategories: string[], autoUpdate: boolean, extraSites: string[] }} Settings
 */

export const DEFAULT_SETTINGS = Object.freeze({
  mode: 'banner',
  threshold: null,
  disabledSites: [],
  language: 'auto',
  disabledCategories: [],
  autoUpdate: false,
  extraSites: [],
});

// Each step takes the raw stored object of version N and returns version N + 1.
const MIGRATIONS = {
  // Version 1 kept display mode and sites in flat keys, and user packs under `packs`.
  1: (raw) => {
    const settings = { ...(isObject(raw.settings) ? raw.settings : {}) };
    if (typeof raw.displayMode === 'string') settings.mode = raw.displayMode;
    if (Array.isArray(raw.sitesOff)) settings.disabledSites = raw.sitesOff;
    const out = { ...raw, schema: 2, settings };
    if (Array.isArray(raw.packs) && !Array.isArray(raw.userPacks)) out.userPacks = raw.packs;
    delete out.displayMode;
    delete out.sitesOff;
    delete out.packs;
    return out;
  },
};

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function cleanSettings(raw) {
  const s = isObject(raw) ? raw : {};
  const mode = MODES.includes(s.mode) ? s.mode : DEFAULT_SETTINGS.mode;
  const threshold = typeof s.threshold === 'number' && Number.isFinite(s.threshold) && s.threshold > 0
    ? s.threshold : null;
  const disabledSites = Array.isArray(s.disabledSites)
    ? [...new Set(s.disabledSites.filter((h) => typeof h === 'string' && h.length > 0 && h.length < 256))]
    : [];
  const language = LANGUAGES.includes(s.language) ? s.language : 'auto';
  const disabledCategories = Array.isArray(s.disabledCategories)
    ? [...new Set(s.disabledCategories.filter((c) => typeof c === 'string' && c.length > 0 && c.length < 100))]
    : [];
  const extraSites = Array.isArray(s.extraSites)
    ? [...new Set(s.extraSites.filter((o) => typeof o === 'string' && /^(\*|https?|file):\/\/[^\s]*\/\*$/.test(o)))]
    : [];
  return { ...s, mode, threshold, disabledSites, language, disabledCategories, autoUpdate: s.autoUpdate === true, extraSites };
}

// A user pack is kept whenever its source text survives, whatever else is wrong with it:
// losing an imported pack is worse than showing it with a placeholder name.
function cleanUserPacks(raw) {
  if (!Array.isArray(raw)) return [];
  const out = [];
  for (const p of raw) {
    if (typeof p === 'string') { out.push({ name: 'imported.toml', source: p, importedAt: 0 }); continue; }
    if (!isObject(p) || typeof p.source !== 'string') continue;
    const name = typeof p.name === 'string' && /\.(toml|json)$/i.test(p.name) ? p.name : 'imported.toml';
    const entry = { ...p, name, source: p.source, importedAt: Number(p.importedAt) || 0 };
    if (p.subscription !== undefined) {
      const sub = p.subscription;
      if (isObject(sub) && typeof sub.url === 'string' && typeof sub.publicKey === 'string') entry.subscription = sub;
      else delete entry.subscription;
    }
    if (p.history !== undefined) {
      entry.history = Array.isArray(p.history)
        ? p.history.filter((h) => isObject(h) && typeof h.source === 'string').slice(0, MAX_HISTORY)
        : [];
    }
    out.push(entry);
  }
  return out;
}

function cleanDismissed(raw) {
  const out = {};
  if (!isObject(raw)) return out;
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

function cleanCounts(raw) {
  const out = {};
  if (!isObject(raw)) return out;
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[k] = v;
  return out;
}

function cleanTrialHits(raw) {
  if (!Array.isArray(raw)) return [];
  return raw.filter((h) => isObject(h) && typeof h.text === 'string' && typeof h.pack === 'string').slice(-MAX_TRIAL_HITS);
}

function cleanPackState(raw) {
  const out = {};
  if (!isObject(raw)) return out;
  for (const [id, st] of Object.entries(raw)) {
    if (!isObject(st)) continue;
    out[id] = {
      ...st,
      enabled: st.enabled !== false,
      shadow: st.shadow === true,
      disabledRules: Array.isArray(st.disabledRules) ? st.disabledRules.filter((r) => typeof r === 'string') : [],
    };
  }
  return out;
}

function cleanMarks(raw) {
  const out = {};
  if (!isObject(raw)) return out;
  for (const [k, m] of Object.entries(raw)) {
    if (isObject(m) && typeof m.text === 'string' && typeof m.label === 'boolean') out[k] = m;
  }
  return out;
}

// The schema number stored data says it has: 1 for data from before schema numbers, the
// current one for empty storage.
export function storedSchema(raw) {
  if (!isObject(raw)) return SCHEMA_VERSION;
  if (Number.isInteger(raw.schema)) return raw.schema;
  return Object.keys(raw).length ? 1 : SCHEMA_VERSION;
}

// Brings any stored object (old schema, newer schema, partly corrupt) to a usable state.
// `schema` in the result is the stored one when that is newer than this version's.
export function normalize(raw) {
  let data = isObject(raw) ? { ...raw } : {};
  let version = storedSchema(data);
  const newer = version > SCHEMA_VERSION;
  while (version < SCHEMA_VERSION && MIGRATIONS[version]) {
    try {
      data = MIGRATIONS[version](data);
    } catch {
      // A failed step must not cost the user their packs: keep what the fields below can read.
    }
    version += 1;
  }
  return {
    schema: newer ? version : SCHEMA_VERSION,
    settings: cleanSettings(data.settings),
    userPacks: cleanUserPacks(data.userPacks),
    packState: cleanPackState(data.packState),
    marks: cleanMarks(data.marks),
    dismissed: cleanDismissed(data.dismissed),
    hitCounts: isObject(data.hitCounts) ? cleanCounts(data.hitCounts) : cleanCounts(data.shadowCounts),
    countsSince: Number(data.countsSince) || 0,
    trialHits: cleanTrialHits(data.trialHits),
  };
}

export async function loadState(area = api.storage.local) {
  let raw;
  try {
    raw = await area.get(null);
  } catch {
    raw = {};
  }
  const state = normalize(raw);
  // Empty storage needs no write (defaults are implied); only migrated data is written back,
  // so a first start never races with the user's own first save. Data of a newer schema is
  // never rewritten.
  if (Object.keys(raw).length && storedSchema(raw) < SCHEMA_VERSION) {
    // Write the migrated form back; old keys that migrations folded in are removed.
    try {
      await area.set(state);
      const stale = Object.keys(raw).filter((k) => !(k in state));
      if (stale.length) await area.remove(stale);
    } catch {
      // Read-only or full storage: run on the in-memory state.
    }
  }
  return state;
}

// Writes some keys. The schema number is set to this version's unless the stored one is newer.
// Throws what storage throws (a full storage's quota error among them): see saveOrExplain.
export async function save(partial, area = api.storage.local) {
  const { schema } = await area.get('schema');
  const out = { ...partial };
  if (!(typeof schema === 'number' && Number.isInteger(schema) && schema > SCHEMA_VERSION)) out.schema = SCHEMA_VERSION;
  else delete out.schema;
  await area.set(out);
}

// Like save(), but returns null when it worked and a sentence for people when it did not
// (storage full, or any other refusal), so pages can show it instead of failing silently.
export async function saveOrExplain(partial, area = api.storage.local) {
  try {
    await save(partial, area);
    return null;
  } catch (e) {
    const detail = String(e?.message ?? e);
    if (isQuotaError(e)) return explain('errStorageFull', detail);
    return explain('errNotSaved', detail);
  }
}

export function packStateOf(state, packId) {
  return state.packState[packId] ?? { enabled: true, shadow: false, disabledRules: [] };
}

// Host key for per-site switches: the page's host name, or "file" for saved pages.
export function siteKey(url) {
  try {
    const u = new URL(url);
    if (u.protocol === 'file:') return 'file';
    return u.hostname.replace(/^www\./, '');
  } catch {
    return '';
  }
}

export function siteEnabled(settings, url) {
  const key = siteKey(url);
  return !settings.disabledSites.some((h) => key === h || key.endsWith('.' + h));
}
