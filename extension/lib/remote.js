// @ts-check
// Packs that travel: exact bytes in and out, packs subscribed by URL and signed with Ed25519,
// versions, update checks and history. Shared by the options page (subscribe, check now,
// roll back) and the background (daily checks, when the user switched them on).
//
// A subscription stores the pack's URL and the publisher's public key as the user entered it
// (base64 of the raw 32-byte Ed25519 key), never a key the server offers. The pack is fetched
// from the URL and its signature from URL + ".sig" (base64 of the 64-byte signature over the
// exact bytes of the pack file, as `flagpost sign` writes it). Requests go to those two URLs
// only, without cookies, and are not allowed to redirect elsewhere. A pack whose signature does
// not verify, that does not parse, compile and pass its examples, or whose version is not
// newer than the installed one, is refused with the reason; the installed version keeps
// working.

import { t } from './i18n.js';
import { MAX_HISTORY } from './storage.js';
import { LIMITS } from './limits.js';

const MAX_PACK_BYTES = LIMITS.maxPackBytes;
const BOM = [0xef, 0xbb, 0xbf];

export class PackRefused extends Error {}

const refuse = (key, ...args) => new PackRefused(t(key, ...args));

// ---- bytes ----

// A pack file's bytes → its text for the engine, and whether it began with a byte-order mark
// (kept so that the exported file is the imported one, byte for byte). Invalid UTF-8 is
// refused rather than silently repaired.
export function decodePack(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const bom = view.length >= 3 && view[0] === BOM[0] && view[1] === BOM[1] && view[2] === BOM[2];
  let source;
  try {
    source = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bom ? view.subarray(3) : view);
  } catch {
    throw refuse('errNotUtf8');
  }
  return { source, bom };
}

export function encodePack(source, bom = false) {
  const body = new TextEncoder().encode(source);
  if (!bom) return body;
  const out = new Uint8Array(body.length + 3);
  out.set(BOM, 0);
  out.set(body, 3);
  return out;
}

export function decodeBase64(text) {
  const clean = String(text).trim().replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw refuse('errBadBase64');
  const bin = atob(clean.padEnd(Math.ceil(clean.length / 4) * 4, '='));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function encodeBase64(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

// ---- keys and signatures ----

export function parsePublicKey(text) {
  let raw;
  try {
    raw = decodeBase64(text);
  } catch {
    throw refuse('errBadPublicKey');
  }
  if (raw.length !== 32) throw refuse('errBadPublicKey');
  return raw;
}

export async function verifySignature(bytes, signatureText, publicKeyText, subtle = globalThis.crypto.subtle) {
  const key = parsePublicKey(publicKeyText);
  let signature;
  try {
    signature = decodeBase64(signatureText);
  } catch {
    return false;
  }
  if (signature.length !== 64) return false;
  const imported = await subtle.importKey('raw', key, { name: 'Ed25519' }, false, ['verify']);
  return subtle.verify('Ed25519', imported, signature, bytes);
}

// ---- versions ----

// Semantic versions: MAJOR.MINOR.PATCH with an optional pre-release (which sorts before the
// release). Returns null for anything else.
export function parseVersion(v) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(String(v ?? '').trim());
  if (!m) return null;
  return { parts: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

export function compareVersions(a, b) {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return String(a).localeCompare(String(b), 'en', { numeric: true });
  for (let i = 0; i < 3; i++) if (x.parts[i] !== y.parts[i]) return x.parts[i] < y.parts[i] ? -1 : 1;
  if (!x.pre.length || !y.pre.length) return x.pre.length === y.pre.length ? 0 : x.pre.length ? -1 : 1;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn && Number(p) !== Number(q)) return Number(p) < Number(q) ? -1 : 1;
    if (pn !== qn) return pn ? -1 : 1;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

// ---- URLs and fetching ----

export function packUrl(text) {
  let url;
  try {
    url = new URL(String(text).trim());
  } catch {
    throw refuse('errBadUrl');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse('errBadUrl');
  if (url.username || url.password) throw refuse('errBadUrl');
  url.hash = '';
  const name = decodeURIComponent(url.pathname.split('/').pop() || '');
  if (!/\.(toml|json)$/i.test(name)) throw refuse('errUrlNotPack');
  // Match patterns name a scheme and a host; ports are not part of them in every browser.
  return { url: url.href, name, origin: `${url.protocol}//${url.hostname}/*` };
}

async function fetchBytes(url, fetcher) {
  let res;
  try {
    res = await fetcher(url, { credentials: 'omit', cache: 'no-store', redirect: 'error', referrerPolicy: 'no-referrer' });
  } catch (e) {
    throw refuse('errFetch', url, String(e?.message ?? e));
  }
  if (!res.ok) throw refuse('errFetch', url, `HTTP ${res.status}`);
  const buf = new Uint8Array(await res.arrayBuffer());
  if (buf.length > MAX_PACK_BYTES) throw refuse('errTooLarge', url);
  return buf;
}

// Fetches a subscribed pack and its signature, and checks the signature against the key the
// user gave. Returns { bytes, source, bom }.
export async function fetchSigned(url, publicKey, fetcher = globalThis.fetch.bind(globalThis)) {
  parsePublicKey(publicKey);
  const bytes = await fetchBytes(url, fetcher);
  const signature = new TextDecoder().decode(await fetchBytes(`${url}.sig`, fetcher));
  let ok;
  try {
    ok = await verifySignature(bytes, signature, publicKey);
  } catch {
    ok = false;
  }
  if (!ok) throw refuse('errBadSignature', url);
  return { bytes, ...decodePack(bytes) };
}

// ---- installing, updating, rolling back ----

// The entry a pack file becomes in userPacks. When it replaces an earlier version (same
// pack id), that version moves into the history, newest first.
export function withHistory(entry, previous) {
  if (!previous) return entry;
  const old = { name: previous.name, source: previous.source, bom: !!previous.bom, installedAt: previous.importedAt ?? 0, version: previous.version ?? null };
  const history = [old, ...(previous.history ?? [])].slice(0, MAX_HISTORY);
  return { ...entry, history };
}

// Checks a fetched pack the way an import is checked (parse, compile, examples, beside the
// other packs) and that it is newer than the installed one. deps: { checkPack, compileAll,
// state, installedVersion }. Returns the checked pack summary or throws PackRefused.
export function checkFetched({ source, name }, deps) {
  const check = deps.checkPack(source, name);
  if (check.errors?.length) throw refuse('errPackInvalid', name, check.errors.slice(0, 3).map((e) => e.display ?? e.message).join('; '));
  const failures = check.examples?.failures ?? [];
  if (failures.length) throw refuse('errPackExamples', name, failures.length);
  const version = check.pack?.version;
  if (deps.installedVersion != null && compareVersions(version, deps.installedVersion) <= 0) {
    throw refuse('errNotNewer', check.pack.id, version, deps.installedVersion);
  }
  return check;
}

// Subscribes (index = null) or updates the subscription at userPacks[index]. Returns
// { userPacks, pack, status: 'installed' | 'current' } or throws PackRefused with the reason.
// `manual` checks ignore a hold put on by a rollback.
export async function updateFromUrl(state, { index = null, url, publicKey, manual = true }, deps) {
  const fetcher = deps.fetch ?? globalThis.fetch.bind(globalThis);
  const target = packUrl(url);
  const current = index == null ? null : state.userPacks[index];
  const fetched = await fetchSigned(target.url, publicKey, fetcher);
  const summary = deps.summarize ? deps.summarize(fetched.source, target.name) : null;
  const installed = current ? current.version ?? deps.versionOf?.(current) : null;
  if (current && summary?.version && installed && compareVersions(summary.version, installed) === 0) {
    const userPacks = state.userPacks.slice();
    userPacks[index] = { ...current, subscription: { ...current.subscription, checkedAt: Date.now(), error: null, hold: manual ? false : current.subscription?.hold } };
    return { userPacks, status: 'current', version: installed };
  }
  const check = checkFetched({ source: fetched.source, name: target.name }, { ...deps, installedVersion: installed });
  // Another pack with the same id (an import, or the same pack under another URL) is replaced.
  const others = state.userPacks.filter((p, i) => i !== index && (deps.idOf?.(p) ?? p.id) !== check.pack.id);
  const previous = current ?? state.userPacks.find((p) => (deps.idOf?.(p) ?? p.id) === check.pack.id) ?? null;
  const entry = withHistory({
    name: target.name, source: fetched.source, bom: fetched.bom, importedAt: Date.now(), version: check.pack.version,
    subscription: { url: target.url, publicKey: String(publicKey).trim(), checkedAt: Date.now(), error: null, hold: false },
  }, previous && { ...previous, version: previous.version ?? deps.versionOf?.(previous) });
  const built = deps.compileAll({ ...state, userPacks: [...others, entry] });
  built.engine?.free?.();
  const mine = (built.failed ?? []).find((f) => !f.shipped && f.id === check.pack.id);
  if (built.errors || mine) throw refuse('errPackWithOthers', target.name, (mine?.errors ?? built.errors ?? []).slice(0, 3).map((e) => e.display ?? e.message).join('; '));
  return { userPacks: [...others, entry], status: 'installed', pack: check.pack, version: check.pack.version };
}

// Puts history[h] of userPacks[index] back in use; the version it replaces goes into the
// history. A subscription is put on hold so the next automatic check does not undo it.
export function rollBack(state, index, h) {
  const current = state.userPacks[index];
  const older = current?.history?.[h];
  if (!older) return null;
  const rest = current.history.filter((_, i) => i !== h);
  const back = { name: current.name, source: current.source, bom: !!current.bom, installedAt: current.importedAt ?? 0, version: current.version ?? null };
  const entry = {
    ...current, name: older.name ?? current.name, source: older.source, bom: !!older.bom, importedAt: Date.now(),
    version: older.version ?? null, history: [back, ...rest].slice(0, MAX_HISTORY),
  };
  if (entry.subscription) entry.subscription = { ...entry.subscription, hold: true };
  const userPacks = state.userPacks.slice();
  userPacks[index] = entry;
  return userPacks;
}
