// Options: display mode, threshold, sites, rule packs (import, export, delete, per-pack and
// per-rule switches, count-only mode) and a playground for rule authors.

import { loadState, saveOrExplain, packStateOf, MODES } from '../lib/storage.js';
import { loadWasm, listPacks, checkPack, compile, compileAll, describeFailures } from '../lib/engine.js';
import { download } from '../lib/export.js';
import { api } from '../lib/browser.js';
const $ = (id) => document.getElementById(id);

let state = null;
let packs = [];
let failedPacks = new Map(); // file name → why the background could not use it
let playgroundEngine = null;
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
async function store(partial, done = 'Saved') {
  const problem = await saveOrExplain(partial);
  if (problem) flash(problem, { error: true });
  else flash(done);
  return !problem;
}

function errorList(errors) {
  return el('ul', { class: 'errors error' }, errors.map((e) => el('li', { text: e.display ?? e.message ?? String(e) })));
}

// ---- display and sites ----

function renderDisplay() {
  for (const input of document.querySelectorAll('input[name="mode"]')) input.checked = input.value === state.settings.mode;
  $('threshold').value = state.settings.threshold ?? '';
}

function renderSites() {
  const list = $('sites');
  list.replaceChildren();
  if (!state.settings.disabledSites.length) list.append(el('li', { class: 'muted', text: 'None: Flagpost runs everywhere.' }));
  for (const site of state.settings.disabledSites) {
    const on = el('button', { type: 'button', text: 'Turn on' });
    on.addEventListener('click', () => saveSettings({ disabledSites: state.settings.disabledSites.filter((s) => s !== site) }));
    list.append(el('li', {}, [el('code', { text: site }), document.createTextNode(' '), on]));
  }
}

async function saveSettings(patch) {
  state.settings = { ...state.settings, ...patch };
  await store({ settings: state.settings });
}

// ---- packs ----

function rulesOf(pack) {
  if (!rulesCache.has(pack.source)) {
    const built = compile({ ...state, packState: {}, settings: { ...state.settings, threshold: null } }, [pack]);
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
    const fresh = (built.failed ?? []).filter((f) => !before.has(f.name) || f.name === pack?.name);
    const mine = fresh.find((f) => f.id === id) ?? fresh[0];
    if (built.errors || mine) {
      const why = mine ? describeFailures([mine])[0] : (built.errors ?? []).map((e) => e.display).join('; ');
      flash(`${id} was not switched on: with the packs in use it does not compile. ${why}`, { error: true });
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
    const failure = !pack.shipped && failedPacks.get(state.userPacks[pack.userIndex]?.name);
    const enabled = el('input', { type: 'checkbox', class: 'pack-enabled', checked: st.enabled && !pack.replaced, disabled: pack.replaced });
    enabled.addEventListener('change', () => setPackState(pack.id, { enabled: enabled.checked }));
    const shadow = el('input', { type: 'checkbox', class: 'pack-shadow', checked: st.shadow });
    shadow.addEventListener('change', () => setPackState(pack.id, { shadow: shadow.checked }));
    const exportButton = el('button', { type: 'button', text: 'Export' });
    exportButton.addEventListener('click', () => download(pack.name, 'text/plain', pack.source));
    const actions = el('span', { class: 'actions' }, [exportButton]);
    if (!pack.shipped) {
      const del = el('button', { type: 'button', class: 'delete', text: 'Delete' });
      del.addEventListener('click', async () => {
        if (!confirm(`Delete the imported pack ${pack.id} ${pack.version}?`)) return;
        const userPacks = state.userPacks.filter((_, i) => i !== pack.userIndex);
        if (await store({ userPacks }, 'Deleted')) state.userPacks = userPacks;
      });
      actions.append(del);
    }
    const head = el('div', { class: 'pack-head' }, [
      el('span', { class: 'name', text: pack.name }),
      el('code', { text: `${pack.id} ${pack.version}` }),
      el('span', { class: 'muted', text: pack.shipped ? (pack.replaced ? 'shipped, replaced by an imported version' : 'shipped') : 'imported' }),
      el('label', {}, [enabled, document.createTextNode(' On')]),
      el('label', { title: 'Rules fire and are counted, but no warning is shown' }, [shadow, document.createTextNode(' Count only')]),
      actions,
    ]);
    const box = el('div', { class: 'pack', 'data-pack': pack.id, 'data-origin': pack.shipped ? 'shipped' : 'imported' }, [head]);
    if (failure) box.append(el('p', { class: 'pack-error error', text: `This pack is not in use: ${failure}` }));
    if (info) {
      box.append(el('div', { class: 'muted', text: `${info.description} · ${info.languages.join(', ')} · ${info.license} · threshold ${info.threshold} · ${info.rules.length} rules` }));
      const table = el('table', { class: 'rules' }, [el('tr', {}, ['On', 'Rule', 'Category', 'Severity', 'Weight', 'Counted', 'Description']
        .map((h) => el('th', { text: h })))]);
      for (const rule of info.rules) {
        const on = el('input', { type: 'checkbox', 'aria-label': `Rule ${rule.id} on`, checked: rule.enabled && !st.disabledRules.includes(rule.id), disabled: !rule.enabled });
        on.addEventListener('change', () => {
          const off = new Set(packStateOf(state, pack.id).disabledRules);
          if (on.checked) off.delete(rule.id);
          else off.add(rule.id);
          setPackState(pack.id, { disabledRules: [...off] });
        });
        const counted = state.shadowCounts[`${pack.id}/${rule.id}`] ?? 0;
        table.append(el('tr', { 'data-rule': rule.id }, [
          el('td', {}, [on]), el('td', {}, [el('code', { text: rule.id })]), el('td', { text: rule.category }),
          el('td', { text: rule.severity }), el('td', { text: String(rule.weight) }), el('td', { text: String(counted) }),
          el('td', { text: rule.description }),
        ]));
      }
      const details = el('details', { open: openRuleLists.has(pack.id) }, [el('summary', { text: 'Rules' }), table]);
      details.addEventListener('toggle', () => (details.open ? openRuleLists.add(pack.id) : openRuleLists.delete(pack.id)));
      box.append(details);
    }
    root.append(box);
  }
}

async function importFile(file) {
  const out = $('import-result');
  out.replaceChildren();
  const name = file.name;
  if (!/\.(toml|json)$/i.test(name)) {
    out.append(el('p', { class: 'error', text: `${name}: a pack file must end in .toml or .json` }));
    return;
  }
  const source = await file.text();
  const check = checkPack(source, name);
  if (check.errors.length) {
    out.append(el('p', { class: 'error', text: `${name} was not imported; the packs in use are unchanged.` }), errorList(check.errors));
    return;
  }
  const failures = check.examples?.failures ?? [];
  if (failures.length) {
    out.append(
      el('p', { class: 'error', text: `${name}: ${failures.length} example${failures.length === 1 ? '' : 's'} failed, so it was not imported; the packs in use are unchanged.` }),
      errorList(failures.map((f) => ({ display: `${f.rule ? `rule \`${f.rule}\`: ` : ''}${f.message} — “${f.text}”` }))),
    );
    return;
  }
  // An imported pack with the same id as an earlier import replaces it.
  const keep = packs.filter((p) => !p.shipped && p.id !== check.pack.id).map((p) => state.userPacks[p.userIndex]);
  const entry = { name, source, importedAt: Date.now() };
  const userPacks = [...keep, entry];
  // It must compile beside the packs in use (within the engine's limits for all of them).
  const built = compileAll({ ...state, userPacks });
  built.engine?.free();
  const mine = (built.failed ?? []).find((f) => !f.shipped && f.name === name && f.id === check.pack.id);
  if (built.errors || mine) {
    out.append(el('p', { class: 'error', text: `${name} cannot be used with the other packs; nothing changed.` }),
      errorList(mine ? mine.errors : built.errors));
    return;
  }
  const problem = await saveOrExplain({ userPacks });
  if (problem) {
    out.append(el('p', { class: 'error', text: `${name} was not imported. ${problem}` }));
    return;
  }
  state.userPacks = userPacks;
  out.append(el('p', { class: 'ok', text: `Imported ${check.pack.name} (${check.pack.id} ${check.pack.version}): ${check.examples.passed} examples passed.` }));
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
  const text = $('playground-input').value;
  const verdictBox = $('playground-verdict');
  const preview = $('playground-text');
  if (!playgroundEngine?.engine) {
    verdictBox.replaceChildren(el('p', { class: 'error', text: 'The enabled packs do not compile:' }), errorList(playgroundEngine?.errors ?? []));
    preview.replaceChildren();
    return;
  }
  if (!text) {
    verdictBox.replaceChildren();
    preview.replaceChildren();
    return;
  }
  const v = JSON.parse(playgroundEngine.engine.scan_one(text));
  verdictBox.dataset.flagged = String(v.flagged);
  const rows = v.rules.map((r) => el('tr', { 'data-rule': r.id }, [
    el('td', {}, [el('code', { text: r.id })]), el('td', { text: `${r.pack} ${r.packVersion}` }),
    el('td', { text: r.category }), el('td', { text: r.severity }),
    el('td', { text: r.shadow ? `${r.weight} (count only)` : `+${r.weight}` }),
    el('td', { text: r.spans.map(([s, e]) => text.slice(s, e)).join(', ') }),
  ]));
  const thresholds = playgroundEngine.info.map((p) => `${p.id}: ${state.settings.threshold ?? p.threshold}`).join(', ');
  verdictBox.replaceChildren(
    el('p', {}, [
      el('span', { class: v.flagged ? 'verdict-flagged' : 'verdict-clean', text: v.flagged ? 'Flagged' : 'Not flagged' }),
      document.createTextNode(` — score ${Math.round(v.score * 1000) / 1000} (threshold ${thresholds})${v.truncated ? ' — only the first 64 KiB were scanned' : ''}`),
    ]),
    rows.length
      ? el('table', { class: 'breakdown' }, [el('tr', {}, ['Rule', 'Pack', 'Category', 'Severity', 'Weight', 'Matched'].map((h) => el('th', { text: h }))), ...rows])
      : el('p', { class: 'muted', text: 'No rule fired.' }),
  );
  preview.replaceChildren(...highlighted(text, v.rules.flatMap((r) => r.spans)));
}

// ---- start ----

async function refresh() {
  state = await loadState();
  packs = listPacks(state);
  const status = await api.runtime.sendMessage({ type: 'status' }).catch(() => null);
  failedPacks = new Map((status?.failed ?? []).map((f, i) => [f.name, describeFailures(status.failed)[i]]));
  renderDisplay();
  renderSites();
  renderPacks();
  rebuildPlayground();
  const box = $('engine-status');
  const rules = (info) => info.reduce((n, p) => n + p.rules.filter((r) => r.enabled).length, 0);
  if (status?.failed?.length) {
    box.className = 'error';
    box.textContent = `Some packs are not in use; the others are${status.info?.length ? ` (${status.info.map((p) => `${p.id} ${p.version}`).join(', ')})` : ''}:\n` +
      describeFailures(status.failed).join('\n');
  } else if (status?.errors?.length) {
    box.className = 'error';
    box.textContent = 'The background engine reported problems (the previous packs stay in use):\n' + status.errors.map((e) => e.display).join('\n');
  } else if (status?.info) {
    box.className = 'muted';
    box.textContent = `Engine ready: ${status.info.map((p) => `${p.id} ${p.version}`).join(', ') || 'no packs'} (${rules(status.info)} rules).`;
  }
  if (status?.storageError) {
    box.textContent += `\nA write to storage failed: ${status.storageError}`;
    box.className = 'error';
  }
}

async function main() {
  await loadWasm();
  await refresh();
  for (const input of document.querySelectorAll('input[name="mode"]')) {
    input.addEventListener('change', () => { if (MODES.includes(input.value)) saveSettings({ mode: input.value }); });
  }
  $('threshold-save').addEventListener('click', () => {
    const t = Number($('threshold').value);
    if ($('threshold').value === '' || !(t > 0)) saveSettings({ threshold: null });
    else saveSettings({ threshold: t });
  });
  $('threshold-reset').addEventListener('click', () => saveSettings({ threshold: null }));
  $('site-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const raw = $('site-input').value.trim().toLowerCase();
    let host = raw;
    try { host = new URL(raw.includes('://') ? raw : `https://${raw}`).hostname; } catch { return; }
    host = host.replace(/^www\./, '');
    if (host && !state.settings.disabledSites.includes(host)) saveSettings({ disabledSites: [...state.settings.disabledSites, host] });
    $('site-input').value = '';
  });
  $('import-file').addEventListener('change', async (e) => {
    const [file] = e.target.files;
    if (file) await importFile(file);
    e.target.value = '';
  });
  let timer = 0;
  $('playground-input').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(runPlayground, 60);
  });
  let refreshTimer = 0;
  api.storage.onChanged.addListener((changes, area) => {
    if (area !== 'local' || !['settings', 'userPacks', 'packState'].some((k) => k in changes)) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 50);
  });
  document.body.dataset.ready = 'true';
}

main();
