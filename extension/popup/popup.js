// @ts-check
// Popup: flagged posts on this tab, jump to each, pause the site, export evidence and marks.

import { loadState, saveOrExplain, siteKey } from '../lib/storage.js';
import { evidenceJson, evidenceCsv, labelledJsonl, markKey, download } from '../lib/export.js';
import { api } from '../lib/browser.js';
import { initI18n, localizePage, t, tn, categoryName } from '../lib/i18n.js';
import { originPattern } from '../lib/sites.js';
import { PROTOCOL as P } from '../lib/protocol.js';

const $ = (id) => document.getElementById(id);
// Form controls by id, with the type of element the page has there.
const $input = (id) => /** @type {HTMLInputElement} */ ($(id));
const $button = (id) => /** @type {HTMLButtonElement} */ ($(id));

// A write that failed (storage full among the reasons) is said, not lost.
async function store(partial) {
  const problem = await saveOrExplain(partial);
  $('store-error').hidden = !problem;
  $('store-error').textContent = problem ?? '';
  return !problem;
}

let tab = null;
let page = { url: '', title: '', posts: [] };
let state = null;

async function targetTab() {
  // ?tab=ID lets the popup be opened as a page for a given tab (keyboard users, tests).
  const fromQuery = Number(new URLSearchParams(location.search).get('tab'));
  if (Number.isInteger(fromQuery) && fromQuery > 0) return api.tabs.get(fromQuery);
  const [active] = await api.tabs.query({ active: true, currentWindow: true });
  return active;
}

/** @param {import('../lib/protocol.js').TabRequest} msg */
async function ask(msg) {
  try {
    return await api.tabs.sendMessage(tab.id, msg);
  } catch {
    return null;
  }
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function renderMarksCount() {
  const n = Object.keys(state.marks).length;
  $('marks-count').textContent = n ? tn('popupMarksCount', n) : t('popupNoMarks');
  $button('export-labels').disabled = n === 0;
}

async function setMark(post, label, buttons) {
  const key = markKey(page.url, post.text);
  // Marks made meanwhile on the page's warnings are kept: the write starts from what is stored.
  state.marks = (await loadState()).marks;
  const current = state.marks[key];
  if (current && current.label === label) delete state.marks[key];
  else {
    state.marks[key] = {
      text: post.text, url: page.url, label, time: Date.now(), ...(post.context ? { context: post.context } : {}),
      rules: post.rules.map((r) => r.id), packs: [...new Set(post.rules.map((r) => `${r.pack}@${r.packVersion}`))],
    };
  }
  if (!(await store({ marks: state.marks }))) {
    state = await loadState();
  }
  const now = state.marks[key]?.label;
  buttons.good.setAttribute('aria-pressed', String(now === true));
  buttons.bad.setAttribute('aria-pressed', String(now === false));
  renderMarksCount();
}

function render() {
  const n = page.posts.length;
  $('summary').textContent = page.enabled === false
    ? t('popupPaused')
    : n === 0 ? t('popupNone') : tn('popupCount', n);
  $('summary').dataset.count = String(n);
  const list = $('posts');
  list.replaceChildren();
  for (const post of page.posts) {
    const categories = post.categories.map(categoryName).join(' · ');
    const severity = post.rules.map((r) => r.severity).sort().at(-1);
    // The button's name is its visible text (category, score, the post's first words).
    const go = el('button', { type: 'button', class: 'go', title: t('popupShowPost') }, [
      el('span', { class: 'cat', text: categories }),
      el('span', { class: 'muted', text: ` · ${t('popupScore', post.score)}` }),
      el('span', { class: 'snippet', text: post.text.slice(0, 200) }),
    ]);
    go.addEventListener('click', () => ask({ type: P.toTab.scrollTo, index: post.index }));
    const key = markKey(page.url, post.text);
    const mark = state.marks[key]?.label;
    const good = el('button', { type: 'button', class: 'good', 'aria-pressed': String(mark === true), text: t('w_rightFlag') });
    const bad = el('button', { type: 'button', class: 'bad', 'aria-pressed': String(mark === false), text: t('w_wrongFlag') });
    good.addEventListener('click', () => setMark(post, true, { good, bad }));
    bad.addEventListener('click', () => setMark(post, false, { good, bad }));
    list.append(el('li', { 'data-severity': severity ?? '' }, [go, el('div', { class: 'marks' }, [good, bad])]));
  }
  for (const id of ['export-json', 'export-csv', 'next']) $button(id).disabled = n === 0;
}

function fileStamp() {
  return new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
}

async function shortcuts() {
  try {
    const commands = await api.commands.getAll();
    const key = (name) => commands.find((c) => c.name === name)?.shortcut;
    const parts = [];
    if (key(P.commands.nextFlagged)) parts.push(t('popupKeyNext', key(P.commands.nextFlagged)));
    if (key(P.commands.flagPost)) parts.push(t('popupKeyFlag', key(P.commands.flagPost)));
    $('shortcuts').textContent = parts.join(' · ');
  } catch {
    $('shortcuts').textContent = '';
  }
}

// A site Flagpost does not read yet: one click asks the browser for that site alone, and the
// page is loaded again so that it is read.
function offerSite(target) {
  const origin = /^(https?|file):/.test(target?.url ?? '') ? originPattern(target.url) : null;
  if (!origin) return;
  const site = siteKey(target.url) || origin;
  $('grant').textContent = t('popupReadSite', site);
  $('grant-row').hidden = false;
  $('grant').addEventListener('click', async () => {
    let granted;
    try {
      granted = await api.permissions.request({ origins: [origin] });
    } catch {
      granted = false;
    }
    if (!granted) {
      $('summary').textContent = t('optNotGranted', origin);
      return;
    }
    const fresh = await loadState();
    const extraSites = [...new Set([...(fresh.settings.extraSites ?? []), origin])];
    if (await store({ settings: { ...fresh.settings, extraSites } })) {
      $('grant-row').hidden = true;
      $('summary').textContent = t('popupSiteAdded', site);
      setTimeout(() => api.tabs.reload(target.id).catch(() => {}), 300);
    }
  });
}

async function main() {
  state = await loadState();
  await initI18n(state.settings.language);
  localizePage();
  shortcuts();
  tab = await targetTab();
  const site = siteKey(tab?.url ?? '');
  $('pause-label').textContent = site ? t('popupPauseOn', site) : t('popupPauseHere');
  $input('pause').checked = state.settings.disabledSites.includes(site);
  $input('pause').disabled = !site;
  renderMarksCount();

  const status = await api.runtime.sendMessage({ type: P.fromPage.status }).catch(() => null);
  if (status?.errors?.length) {
    $('engine-error').hidden = false;
    $('engine-error').textContent = `${t('popupPacksNotLoaded')}\n${status.errors.map((e) => e.display).join('\n')}`;
  }

  const reply = await ask({ type: P.toTab.list });
  if (reply) page = reply;
  else {
    page = { url: tab?.url ?? '', title: tab?.title ?? '', posts: [] };
    $('summary').textContent = t('popupNotHere');
    offerSite(tab);
  }
  if (reply) render();

  $('next').addEventListener('click', () => ask({ type: P.toTab.next }));
  $('pause').addEventListener('change', async (e) => {
    const box = /** @type {HTMLInputElement} */ (e.target);
    const fresh = await loadState();
    const sites = new Set(fresh.settings.disabledSites);
    if (box.checked) sites.add(site);
    else sites.delete(site);
    if (!(await store({ settings: { ...fresh.settings, disabledSites: [...sites] } }))) {
      box.checked = !box.checked;
      return;
    }
    setTimeout(async () => {
      const again = await ask({ type: P.toTab.list });
      if (again) { page = again; render(); }
    }, 300);
  });
  const meta = () => ({ exportedAt: new Date().toISOString(), version: api.runtime.getManifest().version });
  $('export-json').addEventListener('click', () =>
    download(`flagpost-evidence-${fileStamp()}.json`, 'application/json', evidenceJson(page, page.posts, meta())));
  $('export-csv').addEventListener('click', () =>
    download(`flagpost-evidence-${fileStamp()}.csv`, 'text/csv', evidenceCsv(page, page.posts, meta())));
  $('export-labels').addEventListener('click', async () => {
    state = await loadState();
    download(`flagpost-marks-${fileStamp()}.jsonl`, 'application/x-ndjson', labelledJsonl(state.marks));
  });
  document.body.dataset.ready = 'true';
}

main();
