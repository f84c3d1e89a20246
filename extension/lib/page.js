// @ts-check
// The extension's plain pages (welcome, help, privacy): their words in the user's language,
// and on the welcome page the two choices a new user makes.

import { loadState, saveOrExplain, MODES, LANGUAGES } from './storage.js';
import { initI18n, localizePage, t } from './i18n.js';
import { api } from './browser.js';

async function main() {
  const state = await loadState();
  await initI18n(state.settings.language);
  localizePage();
  document.title = t(document.body.dataset.title ?? 'extName');
  const status = document.getElementById('choice-status');
  const save = async (patch) => {
    const fresh = await loadState();
    const problem = await saveOrExplain({ settings: { ...fresh.settings, ...patch } });
    if (status) status.textContent = problem ?? t('optSaved');
  };
  for (const input of /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll('input[name="mode"]'))) {
    input.checked = input.value === state.settings.mode;
    input.addEventListener('change', () => { if (MODES.includes(input.value)) save({ mode: input.value }); });
  }
  const language = /** @type {HTMLSelectElement | null} */ (document.getElementById('language'));
  if (language) {
    language.value = state.settings.language;
    language.addEventListener('change', async () => {
      if (!LANGUAGES.includes(language.value)) return;
      await save({ language: language.value });
      await initI18n(language.value);
      localizePage();
    });
  }
  const options = document.getElementById('open-options');
  options?.addEventListener('click', (e) => {
    e.preventDefault();
    api.runtime.openOptionsPage();
  });
  document.body.dataset.ready = 'true';
}

main();
