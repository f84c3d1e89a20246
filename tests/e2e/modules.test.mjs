// The extension's plain modules for issue 8's items 9-14, run in node: pack bytes, signatures
// and versions, the threshold preview, site patterns, the stored shapes of the new data, and
// the three message catalogs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodePack, encodePack, decodeBase64, encodeBase64, verifySignature, compareVersions, parseVersion, packUrl,
  fetchSigned, rollBack, withHistory, PackRefused,
} from '../../extension/lib/remote.js';
import { countFlagged } from '../../extension/lib/preview.js';
import { originPattern } from '../../extension/lib/sites.js';
import { normalize } from '../../extension/lib/storage.js';
import { labelledJsonl } from '../../extension/lib/export.js';
import { useCatalog, t, tn, categoryName, ruleDescription, browserLocale, format } from '../../extension/lib/i18n.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const catalog = (lang) => JSON.parse(fs.readFileSync(path.join(ROOT, '_locales', lang, 'messages.json'), 'utf8'));

test('pack bytes: a byte-order mark and CRLF survive decode and encode; invalid UTF-8 is refused', () => {
  const text = 'id = "x"\r\n# Пакет\r\n';
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
  const { source, bom } = decodePack(bytes);
  assert.equal(source, text);
  assert.equal(bom, true);
  assert.ok(Buffer.from(encodePack(source, bom)).equals(bytes));
  assert.ok(Buffer.from(encodePack(text, false)).equals(Buffer.from(text)));
  assert.throws(() => decodePack(Buffer.from([0x61, 0xff, 0x62])), PackRefused);
});

test('signatures: Ed25519 over the exact bytes, with the raw 32-byte key in base64', async () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const key = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('base64');
  const bytes = Buffer.from('id = "signed"\nversion = "1.0.0"\n');
  const sig = crypto.sign(null, bytes, privateKey).toString('base64');
  assert.equal(await verifySignature(bytes, sig, key), true);
  assert.equal(await verifySignature(Buffer.concat([bytes, Buffer.from(' ')]), sig, key), false, 'one byte more');
  assert.equal(await verifySignature(bytes, `${sig}\n`, key), true, 'a trailing newline in the .sig file is fine');
  assert.equal(await verifySignature(bytes, 'AAAA', key), false);
  await assert.rejects(() => verifySignature(bytes, sig, 'c2hvcnQ='), PackRefused);
  assert.deepEqual([...decodeBase64(encodeBase64(new Uint8Array([0, 255, 7])))], [0, 255, 7]);
});

test('fetchSigned: only the pack URL and URL + ".sig", without cookies or redirects; a bad signature is refused', async () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const key = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('base64');
  const pack = Buffer.from('id = "p"\n');
  const calls = [];
  const files = { 'https://p.example/x.toml': pack, 'https://p.example/x.toml.sig': Buffer.from(crypto.sign(null, pack, privateKey).toString('base64')) };
  const fetcher = async (url, init) => {
    calls.push([url, init.credentials, init.redirect]);
    const body = files[url];
    return { ok: !!body, status: body ? 200 : 404, arrayBuffer: async () => body };
  };
  const got = await fetchSigned('https://p.example/x.toml', key, fetcher);
  assert.equal(got.source, 'id = "p"\n');
  assert.deepEqual(calls, [['https://p.example/x.toml', 'omit', 'error'], ['https://p.example/x.toml.sig', 'omit', 'error']]);
  files['https://p.example/x.toml'] = Buffer.from('id = "q"\n');
  await assert.rejects(() => fetchSigned('https://p.example/x.toml', key, fetcher), /does not match the publisher's key|errBadSignature/);
});

test('versions: semantic order, pre-releases before releases; URLs must name a pack file', () => {
  assert.equal(compareVersions('1.10.0', '1.9.9'), 1);
  assert.equal(compareVersions('2.0.0-rc.1', '2.0.0'), -1);
  assert.equal(compareVersions('2.0.0-rc.2', '2.0.0-rc.10'), -1);
  assert.equal(compareVersions('1.0.0', '1.0.0'), 0);
  assert.equal(parseVersion('banana'), null);
  assert.deepEqual(packUrl('https://packs.example.org:8443/a/b.toml?x=1#frag'), {
    url: 'https://packs.example.org:8443/a/b.toml?x=1', name: 'b.toml', origin: 'https://packs.example.org/*',
  });
  assert.throws(() => packUrl('https://packs.example.org/a/'), PackRefused);
  assert.throws(() => packUrl('ftp://packs.example.org/a.toml'), PackRefused);
  assert.throws(() => packUrl('https://user:pw@packs.example.org/a.toml'), PackRefused);
});

test('history: a replaced version goes first into the history; rollback swaps and holds updates', () => {
  const v1 = { name: 'p.toml', source: 'v1', importedAt: 1, version: '1.0.0', subscription: { url: 'u', publicKey: 'k' } };
  const v2 = withHistory({ name: 'p.toml', source: 'v2', importedAt: 2, version: '2.0.0', subscription: v1.subscription }, v1);
  assert.deepEqual(v2.history.map((h) => h.version), ['1.0.0']);
  const back = rollBack({ userPacks: [v2] }, 0, 0)[0];
  assert.equal(back.source, 'v1');
  assert.equal(back.version, '1.0.0');
  assert.deepEqual(back.history.map((h) => h.version), ['2.0.0']);
  assert.equal(back.subscription.hold, true);
  assert.equal(rollBack({ userPacks: [v2] }, 0, 5), null);
});

test('threshold preview: flagged when one pack\'s weights reach its threshold or the override', () => {
  const posts = [[{ pack: 'a', weight: 1 }, { pack: 'a', weight: 0.5 }], [{ pack: 'a', weight: 0.5 }, { pack: 'b', weight: 0.5 }], [{ pack: 'b', weight: 2 }]];
  assert.equal(countFlagged(posts, { a: 1, b: 3 }, null), 1);
  assert.equal(countFlagged(posts, { a: 1, b: 3 }, 0.5), 3);
  assert.equal(countFlagged(posts, { a: 1, b: 3 }, 1.5), 2);
  assert.equal(countFlagged(posts, { a: 1, b: 3 }, 2.5), 0);
});

test('sites: what a user types becomes one origin pattern, or nothing', () => {
  assert.equal(originPattern('forum.example.org'), '*://forum.example.org/*');
  assert.equal(originPattern('https://forum.example.org/t/1?x'), '*://forum.example.org/*');
  assert.equal(originPattern('*.example.org'), '*://*.example.org/*');
  assert.equal(originPattern('http://localhost:8080/x'), '*://localhost/*');
  assert.equal(originPattern('file'), 'file:///*');
  assert.equal(originPattern('javascript:alert(1)'), null);
  assert.equal(originPattern(''), null);
});

test('storage: new data (dismissals, counts, trial list, subscriptions, language, categories) is cleaned, old counts carried over', () => {
  const s = normalize({
    schema: 2, settings: { language: 'xx', disabledCategories: ['concealment', 7], extraSites: ['*://a.org/*', 'javascript:x'] },
    dismissed: { a: 1, b: 'x' }, shadowCounts: { 'p/r': 3 }, trialHits: [{ text: 't', pack: 'p' }, { nope: 1 }],
    userPacks: [{ name: 'p.toml', source: 's', subscription: { url: 1 } }, { name: 'q.toml', source: 's', subscription: { url: 'u', publicKey: 'k' }, history: 'x' }],
  });
  assert.equal(s.settings.language, 'auto');
  assert.deepEqual(s.settings.disabledCategories, ['concealment']);
  assert.deepEqual(s.settings.extraSites, ['*://a.org/*']);
  assert.deepEqual(s.dismissed, { a: 1 });
  assert.deepEqual(s.hitCounts, { 'p/r': 3 });
  assert.deepEqual(s.trialHits, [{ text: 't', pack: 'p' }]);
  assert.equal(s.userPacks[0].subscription, undefined);
  assert.deepEqual(s.userPacks[1].subscription, { url: 'u', publicKey: 'k' });
  assert.deepEqual(s.userPacks[1].history, []);
});

test('marks export: context and missed posts go into the labelled JSON Lines', () => {
  const out = labelledJsonl({
    a: { text: 'missed', label: true, missed: true, context: 'Channel', url: 'u', rules: [], time: 1 },
    b: { text: 'wrong', label: false, url: 'u', rules: ['r'], time: 2 },
  }).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(out.map((l) => [l.text, l.label, l.context, l.missed]), [['missed', true, 'Channel', true], ['wrong', false, undefined, undefined]]);
});

test('i18n: English, Russian and Ukrainian catalogs have the same keys, placeholders and plural forms', () => {
  const en = catalog('en');
  for (const lang of ['ru', 'uk']) {
    const other = catalog(lang);
    const base = (k) => k.replace(/_(one|few|many|other)$/, '');
    const enKeys = new Set(Object.keys(en).map(base));
    const otherKeys = new Set(Object.keys(other).map(base));
    const ruleKeys = [...otherKeys].filter((k) => k.startsWith('rule_'));
    assert.deepEqual([...enKeys].filter((k) => !otherKeys.has(k)), [], `${lang}: missing keys`);
    assert.deepEqual([...otherKeys].filter((k) => !enKeys.has(k) && !k.startsWith('rule_')), [], `${lang}: unknown keys`);
    assert.ok(ruleKeys.length > 0, `${lang}: rule descriptions of the shipped pack`);
    for (const [k, v] of Object.entries(other)) {
      const enMessage = en[k]?.message ?? en[`${base(k)}_other`]?.message;
      if (!enMessage) continue;
      const ph = (m) => [...new Set(m.match(/\$\d/g) ?? [])].sort().join();
      assert.equal(ph(v.message), ph(enMessage), `${lang} ${k}: placeholders`);
    }
    // Slavic plural forms: one, few, many for every plural key.
    for (const k of Object.keys(en).filter((x) => x.endsWith('_other'))) {
      for (const form of ['one', 'few', 'many']) assert.ok(other[`${base(k)}_${form}`], `${lang}: ${base(k)}_${form}`);
    }
  }
});

test('i18n: every rule of the shipped pack has its description in Russian and Ukrainian', () => {
  const pack = fs.readFileSync(path.join(ROOT, 'extension', 'packs', 'recruitment.toml'), 'utf8');
  const ids = [...pack.matchAll(/^\[\[rules\]\]\s*\nid = "([^"]+)"/gm)].map((m) => m[1]);
  assert.ok(ids.length > 10);
  const categories = [...new Set([...pack.matchAll(/^category = "([^"]+)"/gm)].map((m) => m[1]))];
  for (const lang of ['ru', 'uk']) {
    const c = catalog(lang);
    const missing = ids.filter((id) => !c[`rule_${id.replace(/[^A-Za-z0-9_]/g, '_')}`]);
    assert.deepEqual(missing, [], `${lang}: add a translated description for each of these rules to _locales/${lang}/messages.json as "rule_<id with - as _>"`);
    assert.deepEqual(categories.filter((cat) => !c[`cat_${cat}`]), [], `${lang}: category names missing`);
  }
});

test('i18n: every message key the extension uses exists in the English catalog', () => {
  const en = catalog('en');
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== 'pkg' && e.name !== 'packs') walk(p);
      else if (/\.(js|html)$/.test(e.name)) files.push(p);
    }
  };
  walk(path.join(ROOT, 'extension'));
  files.push(path.join(ROOT, 'manifest.json'));
  const used = new Set();
  for (const f of files) {
    const s = fs.readFileSync(f, 'utf8');
    for (const re of [/\b(?:t|tn|explain|refuse)\('([A-Za-z0-9_]+)'/g, /'(w_[A-Za-z]+)'/g, /data-i18n="([A-Za-z0-9_]+)"/g,
      /(?:placeholder|aria-label):([A-Za-z0-9_]+)/g, /__MSG_([A-Za-z0-9_]+)__/g, /data-title="([A-Za-z0-9_]+)"/g]) {
      for (const m of s.matchAll(re)) used.add(m[1]);
    }
  }
  const missing = [...used].filter((k) => !(k in en) && !(`${k}_other` in en) && k !== 'key');
  assert.deepEqual(missing, []);
});

test('i18n: lookups, plural rules per language, rule descriptions of the shipped pack only', () => {
  useCatalog('ru', catalog('ru'), catalog('en'));
  assert.equal(tn('popupCount', 1), catalog('ru').popupCount_one.message.replace('$1', '1'));
  assert.equal(tn('popupCount', 3), catalog('ru').popupCount_few.message.replace('$1', '3'));
  assert.equal(tn('popupCount', 5), catalog('ru').popupCount_many.message.replace('$1', '5'));
  assert.equal(categoryName('concealment'), catalog('ru').cat_concealment.message);
  assert.equal(categoryName('made_up_thing'), 'Made up thing');
  assert.equal(ruleDescription({ id: 'tourist-cover', pack: 'recruitment', description: 'en' }), catalog('ru').rule_tourist_cover.message);
  assert.equal(ruleDescription({ id: 'tourist-cover', pack: 'someone-else', description: 'theirs' }), 'theirs');
  assert.equal(t('no_such_key'), 'no_such_key');
  useCatalog('en', catalog('en'));
  assert.equal(ruleDescription({ id: 'tourist-cover', pack: 'recruitment', description: 'the pack\'s own' }), 'the pack\'s own');
  assert.equal(browserLocale('uk-UA'), 'uk');
  assert.equal(browserLocale('ru'), 'ru');
  assert.equal(browserLocale('de-DE'), 'en');
  assert.equal(format('$1 of $2', [1, 2]), '1 of 2');
});
