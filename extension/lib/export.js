// @ts-check
// Evidence and labelled-data exports, shared by the popup.

// UTF-16 offsets (as the content script reports them) → Unicode scalar value offsets, the
// unit `flagpost scan` uses, so exported spans line up with the command-line tool.
export function toCharOffset(text, utf16) {
  let chars = 0;
  for (let i = 0; i < utf16 && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    chars++;
  }
  return chars;
}

export function evidenceJson(page, posts, meta) {
  return JSON.stringify({
    exportedAt: meta.exportedAt,
    extension: { name: 'Flagpost', version: meta.version },
    offsets: 'unicode scalar values (characters), end exclusive',
    page: { url: page.url, title: page.title },
    posts: posts.map((p) => ({
      index: p.index,
      flaggedAt: p.flaggedAt,
      score: p.score,
      categories: p.categories,
      text: p.text,
      truncated: p.truncated,
      rules: p.rules.map((r) => ({
        id: r.id, pack: r.pack, packVersion: r.packVersion, category: r.category, severity: r.severity,
        weight: r.weight,
        spans: r.spans.map(([s, e]) => ({ start: toCharOffset(p.text, s), end: toCharOffset(p.text, e), text: p.text.slice(s, e) })),
      })),
    })),
  }, null, 2) + '\n';
}

// A cell that a spreadsheet would run as a formula gets a leading apostrophe. Cells holding a
// separator are quoted, semicolons and tabs included: a spreadsheet in a locale that splits
// on `;` would otherwise start a new cell, and a formula, after one.
export function csvCell(value) {
  let s = value == null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",;\t\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function evidenceCsv(page, posts, meta) {
  const header = ['page_url', 'exported_at', 'flagged_at', 'post_index', 'score', 'categories', 'rule_ids',
    'packs', 'spans', 'matched', 'text'];
  const rows = [header];
  for (const p of posts) {
    rows.push([
      page.url, meta.exportedAt, p.flaggedAt, p.index, p.score, p.categories.join(' '),
      p.rules.map((r) => r.id).join(' '),
      [...new Set(p.rules.map((r) => `${r.pack}@${r.packVersion}`))].join(' '),
      p.rules.flatMap((r) => r.spans.map(([s, e]) => `${r.id}:${toCharOffset(p.text, s)}-${toCharOffset(p.text, e)}`)).join(' '),
      p.rules.flatMap((r) => r.spans.map(([s, e]) => p.text.slice(s, e))).join(' | '),
      p.text,
    ]);
  }
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

// Moderator marks as JSON Lines for `flagpost eval --labelled`: `text` and `label` (true for a
// right flag or a post Flagpost missed, false for a wrong flag), the post's `context` (its
// channel, group or thread title) when the site gave one, and `missed` for posts flagged by
// hand, so that eval on the marks counts false negatives and measures recall.
export function labelledJsonl(marks) {
  return Object.entries(marks)
    .sort(([, a], [, b]) => (a.time ?? 0) - (b.time ?? 0))
    .map(([id, m]) => JSON.stringify({
      id, text: m.text, label: m.label, context: m.context || undefined, missed: m.missed ? true : undefined,
      url: m.url, rules: m.rules, packs: m.packs, markedAt: m.time ? new Date(m.time).toISOString() : undefined,
    }))
    .join('\n') + (Object.keys(marks).length ? '\n' : '');
}

// Stable id for a post on a page (FNV-1a over url and text).
export function markKey(url, text) {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const s = url + '\n' + text;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return 'post-' + h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

export function download(name, type, content) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
