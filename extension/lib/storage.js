// Settings and user packs in storage.local, with a schema version and migrations.
//
// Stored keys (one key per concern, so a write of one never clobbers another):
//   schema       number — SCHEMA_VERSION
//   settings     { mode, threshold, disabledSites }
//   userPacks    [{ name, source, importedAt }]  — imported pack files, kept verbatim
//   packState    { [packId]: { enabled, shadow, disabledRules: [ruleId] } }
//   marks        { [key]: { text, url, label, rules, packs, time } }  — moderator labels
//   shadowCounts { [packId + "/" + ruleId]: number }

export const SCHEMA_VERSION = 2;
export const MODES = ['banner', 'blur', 'highlight'];

export const DEFAULT_SETTINGS = Object.freeze({
  mode: 'banner',
  threshold: null,
  disabledSites: [],
});

const api = globalThis.browser ?? globalThis.chrome;

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
  return { mode, threshold, disabledSites };
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
    out.push({ name, source: p.source, importedAt: Number(p.importedAt) || 0 });
  }
  return out;
}

function cleanPackState(raw) {
  const out = {};
  if (!isObject(raw)) return out;
  for (const [id, st] of Object.entries(raw)) {
    if (!isObject(st)) continue;
    out[id] = {
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

// Brings any stored object (old schema, newer schema, partly corrupt) to a usable state.
export function normalize(raw) {
  let data = isObject(raw) ? { ...raw } : {};
  let version = Number.isInteger(data.schema) ? data.schema : (Object.keys(data).length ? 1 : SCHEMA_VERSION);
  while (version < SCHEMA_VERSION && MIGRATIONS[version]) {
    try {
      data = MIGRATIONS[version](data);
    } catch {
      // A failed step must not cost the user their packs: keep what the fields below can read.
    }
    version += 1;
  }
  return {
    schema: SCHEMA_VERSION,
    settings: cleanSettings(data.settings),
    userPacks: cleanUserPacks(data.userPacks),
    packState: cleanPackState(data.packState),
    marks: cleanMarks(data.marks),
    shadowCounts: isObject(data.shadowCounts) ? data.shadowCounts : {},
  };
}

export async function loadState() {
  let raw = {};
  try {
    raw = await api.storage.local.get(null);
  } catch {
    raw = {};
  }
  const state = normalize(raw);
  // Empty storage needs no write (defaults are implied); only migrated data is written back,
  // so a first start never races with the user's own first save.
  if (Object.keys(raw).length && raw.schema !== SCHEMA_VERSION) {
    // Write the migrated form back; old keys that migrations folded in are removed.
    try {
      await api.storage.local.set(state);
      const stale = Object.keys(raw).filter((k) => !(k in state));
      if (stale.length) await api.storage.local.remove(stale);
    } catch {
      // Read-only or full storage: run on the in-memory state.
    }
  }
  return state;
}

export async function save(partial) {
  await api.storage.local.set({ schema: SCHEMA_VERSION, ...partial });
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
