// @ts-check
// The interface language of the extension's own pages and background: English, Russian or
// Ukrainian, following the browser unless the options page says otherwise.
//
// Messages live in _locales/<lang>/messages.json (the browser reads the same files for the
// store listing and the manifest). They are loaded here rather than through
// i18n.getMessage so that the language can be overridden in the options, and plural forms
// follow the language's rules: a key with plural forms has variants `key_one`, `key_few`,
// `key_many`, `key_other` (Intl.PluralRules categories). `$1`…`$9` in a message are replaced by
// the arguments.
//
// Rule descriptions and category names of the shipped pack are translated here too, keyed by
// rule id (`rule_<id>`, dashes as underscores) and category (`cat_<category>`); rules of other
// packs, and rules added to the shipped pack later, show the pack's own description.

import { api } from './browser.js';
import { PROTOCOL } from './protocol.js';

export const LOCALES = PROTOCOL.locales;
export const SHIPPED_PACK_ID = 'recruitment';

const catalogs = new Map(); // locale → Promise<messages>
let current = { locale: 'en', messages: {}, fallback: {} };

// The locale the browser asks for, narrowed to the three Flagpost speaks.
export function browserLocale(ui = safeUiLanguage()) {
  const lang = String(ui || 'en').toLowerCase().split(/[-_]/)[0];
  if (lang === 'uk' || lang === 'ua') return 'uk';
  if (lang === 'ru' || lang === 'be') return 'ru';
  return 'en';
}

function safeUiLanguage() {
  try {
    return api?.i18n?.getUILanguage?.() ?? globalThis.navigator?.language ?? 'en';
  } catch {
    return 'en';
  }
}

// 'auto' (or anything unknown) follows the browser.
export function resolveLocale(preference) {
  return LOCALES.includes(preference) ? preference : browserLocale();
}

async function fetchCatalog(locale) {
  const url = api.runtime.getURL(`_locales/${locale}/messages.json`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

export function loadCatalog(locale, fetcher = fetchCatalog) {
  if (!catalogs.has(locale)) catalogs.set(locale, fetcher(locale).catch(() => ({})));
  return catalogs.get(locale);
}

// Loads the messages for a preference ('auto', 'en', 'ru', 'uk'); English fills any gap.
export async function initI18n(preference = 'auto', fetcher = fetchCatalog) {
  const locale = resolveLocale(preference);
  const [messages, fallback] = await Promise.all([loadCatalog(locale, fetcher), loadCatalog('en', fetcher)]);
  current = { locale, messages, fallback };
  return current;
}

// For tests and for the background, which keeps one set per language.
export function useCatalog(locale, messages, fallback = messages) {
  current = { locale, messages, fallback };
}

export function currentLocale() {
  return current.locale;
}

export function format(message, args) {
  return message.replace(/\$(\d)/g, (m, d) => {
    const v = args[Number(d) - 1];
    return v === undefined ? m : String(v);
  });
}

function lookup(key, set = current) {
  return set.messages[key]?.message ?? set.fallback[key]?.message;
}

export function has(key) {
  return lookup(key) !== undefined;
}

export function t(key, ...args) {
  const message = lookup(key);
  return message === undefined ? key : format(message, args);
}

// Plural forms: tn(key, 3) reads key_few in Russian, key_other in English.
export function tn(key, n, ...args) {
  let category = 'other';
  try {
    category = new Intl.PluralRules(current.locale).select(n);
  } catch {
    // An engine without PluralRules: "other" reads acceptably in all three.
  }
  const message = lookup(`${key}_${category}`) ?? lookup(`${key}_other`);
  return message === undefined ? key : format(message, [n, ...args]);
}

export function ruleKey(ruleId) {
  return `rule_${String(ruleId).replace(/[^A-Za-z0-9_]/g, '_')}`;
}

// A category's name for people: translated for known categories, else made readable.
export function categoryName(category) {
  const message = lookup(`cat_${category}`);
  if (message !== undefined) return message;
  const words = String(category).replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// A rule's description: translated for the shipped pack's rules, else the pack's own words.
export function ruleDescription(rule) {
  if (rule?.pack === SHIPPED_PACK_ID || rule?.packId === SHIPPED_PACK_ID) {
    const message = current.messages[ruleKey(rule.id)]?.message;
    if (message !== undefined && current.locale !== 'en') return message;
  }
  return rule?.description ?? '';
}

export function severityName(severity) {
  const message = lookup(`sev_${severity}`);
  return message === undefined ? String(severity) : message;
}

// Fills the text of elements with data-i18n="key", and attributes named in
// data-i18n-attr="attr:key;attr:key". Text is only ever set as text.
/** @param {Document | Element} [root] */
export function localizePage(root = document) {
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll('[data-i18n]'))) el.textContent = t(el.dataset.i18n);
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll('[data-i18n-attr]'))) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  const html = 'documentElement' in root ? root.documentElement : root.ownerDocument?.documentElement;
  if (html) html.lang = current.locale;
}

// The strings the content script needs (warning, notices, categories and the shipped pack's
// rule descriptions), in one language, sent to it over the port.
export function contentStrings(messages, fallback) {
  const out = {};
  const take = (src) => {
    for (const [k, v] of Object.entries(src)) {
      if (/^(w_|cat_|sev_|rule_)/.test(k) && typeof v?.message === 'string' && !(k in out)) out[k] = v.message;
    }
  };
  take(messages);
  take(fallback);
  return out;
}
