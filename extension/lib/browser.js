// The one place where Chromium and Firefox differ for the background and the extension's own
// pages (never loaded by content scripts, which use `chrome` directly).

export const api = globalThis.browser ?? globalThis.chrome;

// Keeps storage.local to the extension's own pages and background, so that a content script
// (which runs inside web pages) cannot read moderators' marks, packs or settings.
//
// Chromium: storage.local.setAccessLevel({ accessLevel: 'TRUSTED_CONTEXTS' }) takes it away
// from content scripts; their storage calls then fail, and they get what they need over the
// background's port instead.
// Firefox: setAccessLevel exists only for storage.session (which content scripts cannot reach
// by default); storage.local stays readable by content scripts and there is no switch for it.
// Flagpost's content scripts never call storage either way.
//
// Returns 'trusted' when the restriction is in force, or 'unsupported' with the reason.
export async function restrictStorageToExtension(area = api.storage?.local) {
  if (typeof area?.setAccessLevel !== 'function') return { level: 'unsupported', reason: 'no setAccessLevel on storage.local' };
  try {
    await area.setAccessLevel({ accessLevel: 'TRUSTED_CONTEXTS' });
    return { level: 'trusted' };
  } catch (e) {
    return { level: 'unsupported', reason: String(e?.message ?? e) };
  }
}

// Quota errors read differently in each browser; they all mean "storage is full".
export function isQuotaError(e) {
  return /quota|QUOTA_BYTES|too large|exceed/i.test(String(e?.message ?? e));
}
