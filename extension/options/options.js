// @ts-check
// Options: display mode, language, threshold (with a preview on the open page), categories,
// sites (the supported ones, others added with the browser's permission, paused ones), rule
// packs (import, export byte for byte, subscribe by URL with signatures, updates, history and
// rollback, per-pack and per-rule switches, count-only mode, hit counts), the posts count-only
// packs would have flagged, and a playground for rule authors.

import { loadState, saveOrExplain, packStateOf, MODES, LANGUAGES } from '../lib/storage.js';
import { loadWasm, listPacks, checkPack, compile, compileAll, describeFailures, summarize } from '../lib/engine.js';
import { download } from '../lib/export.js';
import { api } from '../lib/browser.js';
import { initI18n, localizePage, t, tn, categoryName, ruleDescription, severityName, currentLocale } from '../lib/i18n.js';
import { decodePack, encodePack, packUrl, updateFromUrl, rollBack, withHistory, PackRefused } from '../lib/remote.js';
import { originPattern } from '../lib/sites.js';
import { countFlagged } from '../lib/preview.js';
import { PROTOCOL as P } from '../lib/protocol.js';

const $ = (id) => document.getElementById(id);
// Form controls by id, with the type of element the page has there.
const $input = (id) => /** @type {HTMLInputElement} */ ($(id));
const $select = (id) => /** @type {HTMLSelectElement} */ ($(id));
const $button = (id) => /** @type {HTMLButtonElement} */ ($(id));
const $textarea = (id) => /** @type {HTMLTextAreaElement} */ ($(id));

let state = null;
let packs = [];
let failedPacks = new Map(); // file name → why the background could not use it
let playgroundEngine = null;
let language = null;
let ready = null; // the first load of the page
const rulesCache = new Map(); // pack source → rule list
const openRuleLists = new Set(); // packs whose rule list is expanded, kept across re-renders

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') node.textContent = v;
    else if (v === true) node.setAttribute(k, '');
    else if (v !== false && v != null) node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function flash(message, { error = false } = {}) {
  const box = $('saved');
  box.textContent = message;
  box.className = error ? 'error' : 'muted';
  if (!error) setTimeout(() => { if (box.textContent === message) box.textContent = ''; }, 2500);
}

// Saves some keys; a refusal (storage full among them) is shown instead of lost.
async function store(partial, done = t('optSaved')) {
  const problem = await saveOrExplain(partial);
  if (problem) flash(problem, { error: true });
  else flash(done);
  return !problem;
}

function errorList(errors) {
  return el('ul', { class: 'errors error' }, errors.map((e) => el('li', { text: e.display ?? e.message ?? String(e) })));
}

function when(time) {
  return time ? new Date(time).toLocaleString(currentLocale()) : '—';
}

// ---- display ----

function renderDisplay() {
  for (const input of /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll('input[name="mode"]'))) input.checked = input.value === state.settings.mode;
  $input('threshold').value = state.settings.threshold ?? '';
  $select('language').value = state.settings.language;
  $input('auto-update').checked = state.settings.autoUpdate;
  const n = Object.keys(state.dismissed).length;
  $('dismissed-count').textContent = n ? tn('optDismissedCount', n) : t('optDismissedNone');
  $button('dismissed-clear').disabled = n === 0;
}

// One switch per category of the packs in use (and any switched off before).
function renderCategories() {
  const seen = new Set(state.settings.disabledCategories);
  for (const p of packs) for (const r of rulesOf(p)?.rules ?? []) seen.add(r.category);
  const list = $('category-list');
  list.replaceChildren();
  for (const category of [...seen].sort()) {
    const box = el('input', { type: 'checkbox', 'data-category': category, checked: !state.settings.disabledCategories.includes(category) });
    box.addEventListener('change', () => {
      const off = new Set(state.settings.disabledCategories);
      if (box.checked) off.delete(category);
      else off.add(category);
      saveSettings({ disabledCategories: [...off] });
    });
    list.append(el('label', {}, [box, document.createTextNode(` ${categoryName(category)}`)]));
  }
}

async function saveSettings(patch) {
  state.settings = { ...state.settings, ...patch };
  return store({ settings: state.settings });
}

// ---- threshold preview: how many posts on the open page each setting would flag ----

// The web page the user was last on (this page is a tab of its own).
async function openPageTab() {
  const tabs = await api.tabs.query({});
  const pages = tabs.filter((tb) => /^(https?|file):/.test(tb.url ?? '') && !tb.url.startsWith(location.origin));
  pages.sort((a, b) => (b.lastAccessed ?? 0) - (a.lastAccessed ?? 0));
  return pages[0] ?? null;
}

async function renderPreview() {
  const tab = await openPageTab().catch(() => null);
  const info = $('preview-page');
  const table = /** @type {HTMLTableElement} */ ($('preview-table'));
  let reply = null;
  if (tab) reply = await api.tabs.sendMessage(tab.id, { type: P.toTab.scores }).catch(() => null);
  if (!reply) {
    info.textContent = t('optPreviewNoPage');
    table.hidden = true;
    return;
  }
  // Each pack's own threshold, from the packs as compiled without an override.
  const own = compile({ ...state, settings: { ...state.settings, threshold: null } });
  const thresholds = Object.fromEntries((own.info ?? []).map((p) => [p.id, p.threshold]));
  own.engine?.free();
  info.textContent = t('optPreviewPage', reply.url, reply.scanned);
  const rows = [[t('optPreviewOwn'), null]];
  const typed = Number($input('threshold').value);
  const values = new Set([0.5, 1, 1.5, 2, 3]);
  if (state.settings.threshold) values.add(state.settings.threshold);
  if ($input('threshold').value !== '' && typed > 0) values.add(typed);
  for (const v of [...values].sort((a, b) => a - b)) rows.push([String(v), v]);
  const current = state.settings.threshold ?? null;
  table.tBodies[0].replaceChildren(...rows.map(([label, v]) => el('tr', { 'data-threshold': v == null ? 'own' : String(v), class: v === current ? 'current' : '' }, [
    el('td', { text: label }),
    el('td', { text: String(countFlagged(reply.posts, thresholds, v)) }),
  ])));
  table.hidden = false;
  $('preview').dataset.ready = 'true';
}

// ---- sites ----

function renderSites() {
  const list = $('sites');
  list.replaceChildren();
  if (!state.settings.disabledSites.length) list.append(el('li', { class: 'muted', text: t('optNoPaused') }));
  for (const site of state.settings.disabledSites) {
    const on = el('button', { type: 'button', text: t('optTurnOn') });
    on.addEventListener('click', () => saveSettings({ disabledSites: state.settings.disabledSites.filter((s) => s !== site) }));
    list.append(el('li', {}, [el('code', { text: site }), document.createTextNode(' '), on]));
  }
  const extra = $('extra-sites');
  extra.replaceChildren();
  const sites = state.settings.extraSites ?? [];
  if (!sites.length) extra.append(el('li', { class: 'muted', text: t('optNoExtra') }));
  for (const origin of sites) {
    const remove = el('button', { type: 'button', text: t('optRemove') });
    remove.addEventListener('click', async () => {
      await api.permissions.remove({ origins: [origin] }).catch(() => false);
      saveSettings({ extraSites: sites.filter((s) => s !== origin) });
    });
    extra.append(el('li', { 'data-origin': origin }, [el('code', { text: origin }), document.createTextNode(' '), remove]));
  }
}

// Asks the browser for one more site (it shows its own prompt), and remembers it.
async function addSite(origin) {
  if (!origin) {
    flash(t('optBadSite'), { error: true });
    return false;
  }
  let granted;
  try {
    granted = await api.permissions.request({ origins: [origin] });
  } catch (e) {
    flash(String(e?.message ?? e), { error: true });
    return false;
  }
  if (!granted) {
    flash(t('optNotGranted', origin), { error: true });
    return false;
  }
  const sites = new Set(state.settings.extraSites ?? []);
  sites.add(origin);
  return saveSettings({ extraSites: [...sites] });
}

// ---- packs ----

const summaryOf = (p) => summarize([p])[0] ?? {};
const remoteDeps = {
  checkPack, compileAll,
  summarize: (source, name) => summarize([{ name, source }])[0] ?? {},
  versionOf: (p) => summaryOf(p).version,
  idOf: (p) => summaryOf(p).id,
};

function rulesOf(pack) {
  if (!pack.id) return null;
  if (!rulesCache.has(pack.source)) {
    const built = compile({ ...state, packState: {}, settings: { ...state.settings, threshold: null, disabledCategories: [] } }, [pack]);
    rulesCache.set(pack.source, built.info?.[0] ?? null);
    built.engine?.free();
  }
  return rulesCache.get(pack.source);
}

// Switching a pack on is checked first: the packs in use with it must still compile within
// the engine's limits, or it stays off and the reason is shown.
async function setPackState(id, patch) {
  const packState = { ...state.packState, [id]: { ...packStateOf(state, id), ...patch } };
  if (patch.enabled === true) {
    const built = compileAll({ ...state, packState });
    built.engine?.free();
    const before = new Set(failedNames(compileAll(state)));
    const pack = packs.find((p) => p.id === id);
    const fresh = (built.failed ?? []).filter((f) => !before.has(f.name) || f.name === pack?.file);
    const mine = fresh.find((f) => f.id === id) ?? fresh[0];
    if (built.errors || mine) {
      const why = mine ? describeFailures([mine])[0] : (built.errors ?? []).map((e) => e.display).join('; ');
      flash(t('optNotSwitchedOn', id, why), { error: true });
      renderPacks();
      return false;
    }
  }
  state.packState = packState;
  return store({ packState });
}

function failedNames(built) {
  const names = (built.failed ?? []).map((f) => f.name);
  built.engine?.free();
  return names;
}

// The exact bytes of a pack file as it was imported or fetched.
function exportPack(pack) {
  const entry = pack.shipped ? null : state.userPacks[pack.userIndex];
  const bytes = encodePack(pack.source, !!entry?.bom);
  download(pack.file, /\.json$/i.test(pack.file) ? 'application/json' : 'application/toml', bytes);
}

function subscriptionBox(pack, entry) {
  const sub = entry.subscription;
  const check = el('button', { type: 'button', class: 'check', text: t('optCheckNow') });
  check.addEventListener('click', () => checkUpdates());
  const parts = [
    el('div', {}, [document.createTextNode(`${t('optSubscribedFrom')} `), el('code', { text: sub.url })]),
    el('div', { class: 'muted', text: t('optSubscribedKey', sub.publicKey.slice(0, 12)) }),
    el('div', { class: 'muted', text: t('optLastChecked', when(sub.checkedAt)) }),
  ];
  if (sub.hold) parts.push(el('div', { class: 'muted', text: t('optHeld') }));
  if (sub.error) parts.push(el('div', { class: 'error sub-error', text: sub.error }));
  return el('div', { class: 'sub' }, [...parts, check]);
}

function historyBox(pack, entry) {
  const items = (entry.history ?? []).map((h, i) => {
    const version = h.version ?? summaryOf({ name: h.name ?? entry.name, source: h.source }).version ?? '?';
    const back = el('button', { type: 'button', class: 'rollback', 'data-version': version, text: t('optRollBack', version) });
    back.addEventListener('click', async () => {
      const userPacks = rollBack(state, pack.userIndex, i);
      if (!userPacks) return;
      if (await store({ userPacks }, t('optRolledBack', pack.id, version))) state.userPacks = userPacks;
    });
    return el('li', {}, [document.createTextNode(`${version} · ${when(h.installedAt)} `), back]);
  });
  if (!items.length) return null;
  return el('details', { class: 'history' }, [el('summary', { text: tn('optHistory', items.length) }), el('ul', {}, items)]);
}

function renderPacks() {
  const root = $('packs');
  root.replaceChildren();
  for (const pack of packs) {
    if (!pack.id) {
      root.append(el('div', { class: 'pack' }, [el('div', { class: 'name', text: pack.name }), errorList(pack.errors ?? [])]));
      continue;
    }
    const st = packStateOf(state, pack.id);
    const info = rulesOf(pack);
    const entry = pack.shipped ? null : state.userPacks[pack.userIndex];
    const failure = !pack.shipped && failedPacks.get(entry?.name);
    const enabled = el('input', { type: 'checkbox', class: 'pack-enabled', checked: st.enabled && !pack.replaced, disabled: pack.replaced });
    enabled.addEventListener('change', () => setPackState(pack.id, { enabled: enabled.checked }));
    const shadow = el('input', { type: 'checkbox', class: 'pack-shadow', checked: st.shadow });
    shadow.addEventListener('change', () => setPackState(pack.id, { shadow: shadow.checked }));
    const exportButton = el('button', { type: 'button', class: 'export', text: t('optExport') });
    exportButton.addEventListener('click', () => exportPack(pack));
    const actions = el('span', { class: 'actions' }, [exportButton]);
    if (!pack.shipped) {
      const del = el('button', { type: 'button', class: 'delete', text: t('optDelete') });
      del.addEventListener('click', async () => {
        if (!confirm(t('optDeleteConfirm', pack.id, pack.version))) return;
        const userPacks = state.userPacks.filter((_, i) => i !== pack.userIndex);
        if (await store({ userPacks }, t('optDeleted'))) {
          state.userPacks = userPacks;
          await releaseOrigin(entry?.subscription?.url, userPacks);
        }
      });
      actions.append(del);
    }
    const origin = pack.shipped
      ? (pack.replaced ? t('optOriginReplaced') : t('optOriginShipped'))
      : entry?.subscription ? t('optOriginSubscribed') : t('optOriginImported');
    const head = el('div', { class: 'pack-head' }, [
      el('span', { class: 'name', text: pack.name }),
      el('code', { text: `${pack.id} ${pack.version}` }),
      el('span', { class: 'muted', text: origin }),
      el('label', {}, [enabled, document.createTextNode(` ${t('optPackOn')}`)]),
      el('label', { title: t('optCountOnlyHelp') }, [shadow, document.createTextNode(` ${t('optCountOnly')}`)]),
      actions,
    ]);
    const box = el('div', { class: 'pack', 'data-pack': pack.id, 'data-origin': pack.shipped ? 'shipped' : entry?.subscription ? 'subscribed' : 'imported' }, [head]);
    if (failure) box.append(el('p', { class: 'pack-error error', text: t('optPackNotInUse', failure) }));
    if (entry?.subscription) box.append(subscriptionBox(pack, entry));
    const history = entry && historyBox(pack, entry);
    if (history) box.append(history);
    if (info) {
      box.append(el('div', { class: 'muted', text: t('optPackMeta', info.description, info.languages.join(', '), info.license, info.threshold, info.rules.length) }));
      const table = el('table', { class: 'rules' }, [el('tr', {}, [t('optColOn'), t('optColRule'), t('optColCategory'), t('optColSeverity'), t('optColWeight'), t('optColHits'), t('optColDescription')]
        .map((h) => el('th', { scope: 'col', text: h })))]);
      for (const rule of info.rules) {
        const on = el('input', { type: 'checkbox', 'aria-label': t('optRuleOn', rule.id), checked: rule.enabled && !st.disabledRules.includes(rule.id), disabled: !rule.enabled });
        on.addEventListener('change', () => {
          const off = new Set(packStateOf(state, pack.id).disabledRules);
          if (on.checked) off.delete(rule.id);
          else off.add(rule.id);
          setPackState(pack.id, { disabledRules: [...off] });
        });
        const hits = state.hitCounts[`${pack.id}/${rule.id}`] ?? 0;
        table.append(el('tr', { 'data-rule': rule.id }, [
          el('td', {}, [on]), el('td', {}, [el('code', { text: rule.id })]), el('td', { text: categoryName(rule.category) }),
          el('td', { text: severityName(rule.severity) }), el('td', { text: String(rule.weight) }), el('td', { class: 'hits', text: String(hits) }),
          el('td', { text: ruleDescription({ ...rule, pack: pack.id }) }),
        ]));
      }
      const details = el('details', { class: 'rule-list', open: openRuleLists.has(pack.id) }, [el('summary', { text: t('optRules') }), table]);
      details.addEventListener('toggle', () => (details.open ? openRuleLists.add(pack.id) : openRuleLists.delete(pack.id)));
      box.append(details);
    }
    root.append(box);
  }
  $('counts-since').textContent = state.countsSince ? t('optCountsSince', when(state.countsSince)) : t('optCountsNone');
}

// Only the hit counts changed: the numbers are updated in place.
function renderCounts() {
  for (const row of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.pack[data-pack] tr[data-rule]'))) {
    const pack = /** @type {HTMLElement} */ (row.closest('.pack')).dataset.pack;
    row.querySelector('td.hits').textContent = String(state.hitCounts[`${pack}/${row.dataset.rule}`] ?? 0);
  }
  $('counts-since').textContent = state.countsSince ? t('optCountsSince', when(state.countsSince)) : t('optCountsNone');
}

async function importFile(file) {
  const out = $('import-result');
  out.replaceChildren();
  const name = file.name;
  if (!/\.(toml|json)$/i.test(name)) {
    out.append(el('p', { class: 'error', text: t('optImportBadName', name) }));
    return;
  }
  let decoded;
  try {
    decoded = decodePack(await file.arrayBuffer());
  } catch (e) {
    out.append(el('p', { class: 'error', text: `${name}: ${e.message}` }));
    return;
  }
  const { source, bom } = decoded;
  const check = checkPack(source, name);
  if (check.errors.length) {
    out.append(el('p', { class: 'error', text: t('optImportRefused', name) }), errorList(check.errors));
    return;
  }
  const failures = check.examples?.failures ?? [];
  if (failures.length) {
    out.append(
      el('p', { class: 'error', text: tn('optImportExamplesFailed', failures.length, name) }),
      errorList(failures.map((f) => ({ display: `${f.rule ? `rule \`${f.rule}\`: ` : ''}${f.message} — “${f.text}”` }))),
    );
    return;
  }
  // An imported pack with the same id as an earlier import replaces it; the earlier version
  // goes into the pack's history.
  const previousPack = packs.find((p) => !p.shipped && p.id === check.pack.id);
  const previous = previousPack ? { ...state.userPacks[previousPack.userIndex], version: previousPack.version } : null;
  const keep = packs.filter((p) => !p.shipped && p.id !== check.pack.id).map((p) => state.userPacks[p.userIndex]);
  const entry = withHistory({ name, source, bom, importedAt: Date.now(), version: check.pack.version }, previous);
  const userPacks = [...keep, entry];
  // It must compile beside the packs in use (within the engine's limits for all of them).
  const built = compileAll({ ...state, userPacks });
  built.engine?.free();
  const mine = (built.failed ?? []).find((f) => !f.shipped && f.name === name && f.id === check.pack.id);
  if (built.errors || mine) {
    out.append(el('p', { class: 'error', text: t('optImportWithOthers', name) }), errorList(mine ? mine.errors : built.errors));
    return;
  }
  const problem = await saveOrExplain({ userPacks });
  if (problem) {
    out.append(el('p', { class: 'error', text: t('optImportNotSaved', name, problem) }));
    return;
  }
  state.userPacks = userPacks;
  out.append(el('p', { class: 'ok', text: tn('optImported', check.examples.passed, check.pack.name, check.pack.id, check.pack.version) }));
}

// ---- packs by URL ----

async function subscribe(urlText, keyText) {
  const out = $('subscribe-result');
  out.replaceChildren();
  let target;
  try {
    target = packUrl(urlText);
  } catch (e) {
    out.append(el('p', { class: 'error', text: e.message }));
    return;
  }
  // Only this pack's origin, asked for now (the browser may show its own prompt).
  let granted;
  try {
    granted = await api.permissions.request({ origins: [target.origin] });
  } catch (e) {
    out.append(el('p', { class: 'error', text: String(e?.message ?? e) }));
    return;
  }
  if (!granted) {
    out.append(el('p', { class: 'error', text: t('optNotGranted', target.origin) }));
    return;
  }
  out.append(el('p', { class: 'muted', text: t('optFetching', target.url) }));
  try {
    const existing = state.userPacks.findIndex((p) => p.subscription?.url === target.url);
    const result = await updateFromUrl(state, { index: existing >= 0 ? existing : null, url: target.url, publicKey: keyText, manual: true }, { ...remoteDeps, fetch: (u, o) => fetch(u, o) });
    if (result.status === 'current') {
      out.replaceChildren(el('p', { class: 'ok', text: t('optUpToDate', result.version) }));
      await saveOrExplain({ userPacks: result.userPacks });
      return;
    }
    const problem = await saveOrExplain({ userPacks: result.userPacks });
    if (problem) {
      out.replaceChildren(el('p', { class: 'error', text: problem }));
      return;
    }
    state.userPacks = result.userPacks;
    out.replaceChildren(el('p', { class: 'ok', text: t('optSubscribed', result.pack.name, result.pack.id, result.pack.version) }));
    $input('subscribe-url').value = '';
    $input('subscribe-key').value = '';
  } catch (e) {
    const message = e instanceof PackRefused ? e.message : String(e?.message ?? e);
    out.replaceChildren(el('p', { class: 'error', text: `${message} ${t('optNothingChanged')}` }));
  }
}

// A deleted subscription gives back its site's permission, unless another subscription or a
// site the user added still needs it.
async function releaseOrigin(url, userPacks) {
  if (!url) return;
  let origin;
  try {
    origin = packUrl(url).origin;
  } catch {
    return;
  }
  const stillUsed = userPacks.some((p) => p.subscription && packUrl(p.subscription.url).origin === origin) ||
    (state.settings.extraSites ?? []).some((s) => s === origin || s === origin.replace(/^https?:/, '*:'));
  if (!stillUsed) await api.permissions.remove({ origins: [origin] }).catch(() => false);
}

async function checkUpdates() {
  const out = $('subscribe-result');
  out.replaceChildren(el('p', { class: 'muted', text: t('optChecking') }));
  const reply = await api.runtime.sendMessage({ type: P.fromPage.checkUpdates }).catch((e) => ({ report: [], error: String(e) }));
  const lines = (reply?.report ?? []).map((r) => {
    if (r.status === 'installed') return el('li', { class: 'ok', text: t('optUpdated', r.url, r.version) });
    if (r.status === 'current') return el('li', { class: 'muted', text: t('optUpToDateUrl', r.url, r.version) });
    return el('li', { class: 'error', text: `${r.url}: ${r.message}` });
  });
  if (reply?.error) lines.push(el('li', { class: 'error', text: reply.error }));
  if (!lines.length) lines.push(el('li', { class: 'muted', text: t('optNoSubscriptions') }));
  out.replaceChildren(el('ul', { class: 'check-report' }, lines));
}

// ---- posts count-only packs would have flagged ----

function renderTrials() {
  const list = $('trial-list');
  const hits = [...state.trialHits].reverse();
  list.replaceChildren(...hits.map((h) => el('li', { 'data-pack': h.pack }, [
    el('div', { class: 'muted', text: `${h.pack} ${h.packVersion ?? ''} · ${when(h.time)} · ${h.url ?? ''} · ${t('optTrialScore', h.score)} · ${(h.rules ?? []).join(', ')}` }),
    el('div', { class: 'text', text: h.text }),
  ])));
  if (!hits.length) list.append(el('li', { class: 'muted', text: t('optTrialNone') }));
  $button('trial-export').disabled = hits.length === 0;
  $button('trial-clear').disabled = hits.length === 0;
}

// ---- playground ----

function rebuildPlayground() {
  playgroundEngine?.engine?.free();
  playgroundEngine = compile(state);
  runPlayground();
}

function highlighted(text, spans) {
  const merged = [];
  for (const [s, e] of [...spans].sort((a, b) => a[0] - b[0])) {
    const last = merged.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const nodes = [];
  let at = 0;
  for (const [s, e] of merged) {
    if (s > at) nodes.push(document.createTextNode(text.slice(at, s)));
    nodes.push(el('mark', { text: text.slice(s, e) }));
    at = e;
  }
  nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

function runPlayground() {
  const text = $textarea('playground-input').value;
  const verdictBox = $('playground-verdict');
  const preview = $('playground-text');
  if (!playgroundEngine?.engine) {
    verdictBox.replaceChildren(el('p', { class: 'error', text: t('optPlaygroundNoEngine') }), errorList(playgroundEngine?.errors ?? []));
    preview.replaceChildren();
    return;
  }
  if (!text) {
    verdictBox.replaceChildren();
    preview.replaceChildren();
    return;
  }
  const v = playgroundEngine.engine.scan_one(text);
  verdictBox.dataset.flagged = String(v.flagged);
  const rows = v.rules.map((r) => el('tr', { 'data-rule': r.id }, [
    el('td', {}, [el('code', { text: r.id })]), el('td', { text: `${r.pack} ${r.packVersion}` }),
    el('td', { text: categoryName(r.category) }), el('td', { text: severityName(r.severity) }),
    el('td', { text: r.shadow ? t('optPlaygroundCountOnly', r.weight) : `+${r.weight}` }),
    el('td', { text: r.spans.map(([s, e]) => text.slice(s, e)).join(', ') }),
  ]));
  const thresholds = playgroundEngine.info.map((p) => `${p.id}: ${state.settings.threshold ?? p.threshold}`).join(', ');
  verdictBox.replaceChildren(
    el('p', {}, [
      el('span', { class: v.flagged ? 'verdict-flagged' : 'verdict-clean', text: v.flagged ? t('optFlagged') : t('optNotFlagged') }),
      document.createTextNode(` — ${t('optPlaygroundScore', Math.round(v.score * 1000) / 1000, thresholds)}${v.truncated ? ` — ${t('optPlaygroundTruncated')}` : ''}`),
    ]),
    rows.length
      ? el('table', { class: 'breakdown' }, [el('tr', {}, [t('optColRule'), t('optColPack'), t('optColCategory'), t('optColSeverity'), t('optColWeight'), t('optColMatched')].map((h) => el('th', { scope: 'col', text: h }))), ...rows])
      : el('p', { class: 'muted', text: t('optNoRuleFired') }),
  );
  preview.replaceChildren(...highlighted(text, v.rules.flatMap((r) => r.spans)));
}

// ---- start ----

async function refresh() {
  state = await loadState();
  if (state.settings.language !== language) {
    language = state.settings.language;
    await initI18n(language);
    localizePage();
  }
  packs = listPacks(state);
  const status = await api.runtime.sendMessage({ type: P.fromPage.status }).catch(() => null);
  failedPacks = new Map((status?.failed ?? []).map((f, i) => [f.name, describeFailures(status.failed)[i]]));
  renderDisplay();
  renderSites();
  renderPacks();
  renderCategories();
  renderTrials();
  rebuildPlayground();
  renderPreview();
  const box = $('engine-status');
  const rules = (info) => info.reduce((n, p) => n + p.rules.filter((r) => r.enabled).length, 0);
  if (status?.failed?.length) {
    box.className = 'error';
    box.textContent = `${t('optSomeNotInUse', status.info?.map((p) => `${p.id} ${p.version}`).join(', ') ?? '')}\n${describeFailures(status.failed).join('\n')}`;
  } else if (status?.errors?.length) {
    box.className = 'error';
    box.textContent = `${t('optEngineProblems')}\n${status.errors.map((e) => e.display).join('\n')}`;
  } else if (status?.info) {
    box.className = 'muted';
    box.textContent = t('optEngineReady', status.info.map((p) => `${p.id} ${p.version}`).join(', ') || '—', rules(status.info));
  }
  if (status?.storageError) {
    box.textContent += `\n${t('optStorageFailed', status.storageError)}`;
    box.className = 'error';
  }
}

function fileStamp() {
  return new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
}

async function main() {
  // Listening first, so that a change made while the page loads is not missed.
  let refreshTimer = 0;
  let countsTimer = 0;
  api.storage.onChanged.addListener((changes, area) => {
    if (area !== 'local') return;
    if (['settings', 'userPacks', 'packState', 'dismissed'].some((k) => k in changes)) {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => ready.then(refresh), 50);
      return;
    }
    if ('hitCounts' in changes || 'trialHits' in changes || 'countsSince' in changes) {
      clearTimeout(countsTimer);
      countsTimer = setTimeout(async () => {
        await ready;
        const fresh = await loadState();
        state.hitCounts = fresh.hitCounts;
        state.countsSince = fresh.countsSince;
        state.trialHits = fresh.trialHits;
        renderCounts();
        renderTrials();
      }, 100);
    }
  });
  ready = loadWasm().then(refresh);
  await ready;
  for (const input of /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll('input[name="mode"]'))) {
    input.addEventListener('change', () => { if (MODES.includes(input.value)) saveSettings({ mode: input.value }); });
  }
  $('language').addEventListener('change', () => {
    if (LANGUAGES.includes($select('language').value)) saveSettings({ language: $select('language').value });
  });
  $('threshold-save').addEventListener('click', () => {
    const v = Number($input('threshold').value);
    if ($input('threshold').value === '' || !(v > 0)) saveSettings({ threshold: null });
    else saveSettings({ threshold: v });
  });
  $('threshold').addEventListener('input', () => renderPreview());
  $('preview-refresh').addEventListener('click', () => renderPreview());
  $('threshold-reset').addEventListener('click', () => saveSettings({ threshold: null }));
  $('dismissed-clear').addEventListener('click', () => store({ dismissed: {} }));
  $('site-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const raw = $input('site-input').value.trim().toLowerCase();
    let host;
    try { host = new URL(raw.includes('://') ? raw : `https://${raw}`).hostname; } catch { return; }
    host = host.replace(/^www\./, '');
    if (host && !state.settings.disabledSites.includes(host)) saveSettings({ disabledSites: [...state.settings.disabledSites, host] });
    $input('site-input').value = '';
  });
  $('extra-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (await addSite(originPattern($input('extra-input').value))) $input('extra-input').value = '';
  });
  $('file-access').addEventListener('click', () => addSite('file:///*'));
  $('import-file').addEventListener('change', async (e) => {
    const input = /** @type {HTMLInputElement} */ (e.target);
    const [file] = input.files;
    if (file) await importFile(file);
    input.value = '';
  });
  $('subscribe-form').addEventListener('submit', (e) => {
    e.preventDefault();
    subscribe($input('subscribe-url').value, $input('subscribe-key').value);
  });
  $('check-now').addEventListener('click', () => checkUpdates());
  $('auto-update').addEventListener('change', () => saveSettings({ autoUpdate: $input('auto-update').checked }));
  $('counts-reset').addEventListener('click', () => store({ hitCounts: {}, countsSince: Date.now() }, t('optCountsWereReset')));
  $('trial-clear').addEventListener('click', () => store({ trialHits: [] }));
  $('trial-export').addEventListener('click', () => {
    const lines = state.trialHits.map((h) => JSON.stringify({ text: h.text, context: h.context, pack: h.pack, packVersion: h.packVersion, rules: h.rules, score: h.score, url: h.url, seenAt: new Date(h.time).toISOString() }));
    download(`flagpost-trial-${fileStamp()}.jsonl`, 'application/x-ndjson', lines.join('\n') + (lines.length ? '\n' : ''));
  });
  let timer = 0;
  $('playground-input').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(runPlayground, 60);
  });
  document.body.dataset.ready = 'true';
}

main();
