// @ts-check
// Where Flagpost reads pages. The supported social sites are in the manifest's host
// permissions and content scripts; any other site (a forum, a Mastodon server, saved pages
// under file://) is added by the user on the options page, which asks the browser for that
// origin alone (an optional host permission), and the content scripts are then registered for
// the origins the user added and the browser granted.

import { api } from './browser.js';

const SCRIPT_IDS = ['flagpost-start', 'flagpost-main'];

// "example.org", "https://forum.example.org/t/1", "*.example.org" → "*://example.org/*" (or
// "*://*.example.org/*"); "file" or "file://" → "file:///*". Returns null for anything else.
export function originPattern(input) {
  const raw = String(input ?? '').trim().toLowerCase();
  if (!raw) return null;
  if (raw === 'file' || raw.startsWith('file:')) return 'file:///*';
  let host = raw;
  let wildcard = false;
  if (host.startsWith('*.')) {
    wildcard = true;
    host = host.slice(2);
  }
  try {
    const url = new URL(host.includes('://') ? host : `https://${host}`);
    if (!['http:', 'https:'].includes(url.protocol) || !url.hostname) return null;
    host = url.hostname; // any port: match patterns do not carry one in every browser
  } catch {
    return null;
  }
  if (!/^[a-z0-9.-]+$/.test(host) && !/^\[[0-9a-f:]+\]$/.test(host)) return null;
  return `*://${wildcard ? '*.' : ''}${host}/*`;
}

// The content script entries of the manifest, as registerContentScripts takes them.
function manifestScripts() {
  const entries = api.runtime.getManifest().content_scripts ?? [];
  return entries.map((e, i) => ({
    id: SCRIPT_IDS[i] ?? `flagpost-${i}`,
    js: e.js,
    runAt: e.run_at ?? 'document_idle',
    allFrames: !!e.all_frames,
  }));
}

// The user's added sites that the browser granted.
export async function grantedExtraSites(extraSites) {
  const out = [];
  for (const origin of extraSites ?? []) {
    try {
      if (await api.permissions.contains({ origins: [origin] })) out.push(origin);
    } catch {
      // A pattern the browser does not take is left out.
    }
  }
  return out;
}

export async function syncContentScripts() {
  if (!api.scripting?.registerContentScripts) return [];
  /** @type {{ settings?: Partial<import('./storage.js').Settings> }} */
  const { settings } = await api.storage.local.get('settings');
  const origins = await grantedExtraSites(settings?.extraSites ?? []);
  const registered = await api.scripting.getRegisteredContentScripts().catch(() => []);
  const ours = registered.filter((s) => SCRIPT_IDS.includes(s.id)).map((s) => s.id);
  if (ours.length) await api.scripting.unregisterContentScripts({ ids: ours }).catch(() => {});
  if (!origins.length) return [];
  await api.scripting.registerContentScripts(manifestScripts().map((s) => ({ ...s, matches: origins })));
  return origins;
}
