// The extension's plain modules, run in node: storage migrations and exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalize, SCHEMA_VERSION, siteEnabled, siteKey } from '../../extension/lib/storage.js';
import { evidenceCsv, labelledJsonl, toCharOffset, markKey } from '../../extension/lib/export.js';

test('storage: schema 1 data migrates, keeping packs and settings', () => {
  const v1 = { schema: 1, displayMode: 'blur', sitesOff: ['vk.com'], packs: [{ name: 'mine.toml', source: 'id = "mine"' }], packState: { mine: { enabled: false } } };
  const s = normalize(v1);
  assert.equal(s.schema, SCHEMA_VERSION);
  assert.deepEqual(s.settings, { mode: 'blur', threshold: null, disabledSites: ['vk.com'] });
  assert.deepEqual(s.userPacks, [{ name: 'mine.toml', source: 'id = "mine"', importedAt: 0 }]);
  assert.deepEqual(s.packState.mine, { enabled: false, shadow: false, disabledRules: [] });
});

test('storage: unreadable values fall back to defaults without losing user packs', () => {
  const s = normalize({ schema: SCHEMA_VERSION, settings: 'garbage', userPacks: [null, 42, { source: 'id = "a"', name: 'evil"name' }, 'id = "b"'], packState: [], marks: { x: { text: 1 } } });
  assert.deepEqual(s.settings, { mode: 'banner', threshold: null, disabledSites: [] });
  assert.deepEqual(s.userPacks.map((p) => [p.name, p.source]), [['imported.toml', 'id = "a"'], ['imported.toml', 'id = "b"']]);
  assert.deepEqual(s.packState, {});
  assert.deepEqual(s.marks, {});
  assert.equal(normalize(null).settings.mode, 'banner');
  assert.equal(normalize({ schema: 99, settings: { mode: 'highlight' } }).settings.mode, 'highlight');
});

test('storage: per-site switch covers subdomains; saved pages are one site', () => {
  const settings = { disabledSites: ['vk.com'] };
  assert.equal(siteEnabled(settings, 'https://m.vk.com/wall1'), false);
  assert.equal(siteEnabled(settings, 'https://notvk.com/'), true);
  assert.equal(siteKey('file:///home/a/saved.html'), 'file');
  assert.equal(siteKey('https://www.facebook.com/x'), 'facebook.com');
});

test('export: spans in characters, CSV quoting and formula guard, labelled JSON Lines', () => {
  const text = '😀 ты обычный турист';
  assert.equal(toCharOffset(text, 3), 2);
  const post = { index: 0, text: '=cmd, "quoted"\nline', score: 1, flaggedAt: 't', categories: ['c'], rules: [{ id: 'r', pack: 'p', packVersion: '1.0.0', spans: [[1, 4]] }] };
  const csv = evidenceCsv({ url: 'https://x/' }, [post], { exportedAt: 'now' });
  assert.ok(csv.includes(`"'=cmd, ""quoted""\nline"`));
  assert.ok(csv.includes('r:1-4'));
  const marks = { a: { text: 't1', label: true, url: 'u', rules: ['r'], time: 2 }, b: { text: 't0', label: false, url: 'u', rules: ['r'], time: 1 } };
  const lines = labelledJsonl(marks).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.id, l.text, l.label]), [['b', 't0', false], ['a', 't1', true]]);
  assert.notEqual(markKey('u', 'a'), markKey('u', 'b'));
});
