// @ts-check
// The one place where Chromium and Firefox differ for the background and the extension's own
// pages: which global holds the extension API, which calls take callbacks or return promises,
// which are missing. Content scripts cannot import modules; their side is content/api.js, which
// takes the API at document_start, before a page's named elements can stand in for it.

export const api = globalThis.browser ?? globalThis.chrome;

// Did a message come from one of the extension's own pages (popup, options), not from a content
// script? Firefox gives an extension page that is open in a tab a `sender.tab` too, so its URL
// decides there.
export function isOwnPage(sender) {
  return sender?.id === api.runtime.id && !sender.tab?.id ||
    (sender?.url ?? '').startsWith(api.runtime.getURL(''));
}

// The action's badge on one tab. Firefox for Android has no badge colour.
export function setBadgeText(tabId, text, color) {
  api.action.setBadgeText({ tabId, text }).catch(() => {});
  api.action.setBadgeBackgroundColor?.({ tabId, color })?.catch?.(() => {});
}

// Context menus: missing on Firefox for Android; removeAll and create take callbacks (Chromium
// reports failures on runtime.lastError, which must be read), update returns a promise that
// rejects when the item does not exist yet.
export function hasMenus() {
  return !!api.contextMenus;
}

export function removeAllMenus() {
  return new Promise((resolve) => {
    api.contextMenus.removeAll(() => {
      void api.runtime.lastError;
      resolve(undefined);
    });
  });
}

export function addMenuItem(item) {
  return new Promise((resolve) => {
    api.contextMenus.create(item, () => {
      void api.runtime.lastError;
      resolve(undefined);
    });
  });
}

export function setMenuTitle(id, title) {
  try {
    api.contextMenus?.update?.(id, { title })?.catch?.(() => {});
  } catch {
    // No menu yet: it is created with the right title.
  }
}

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
