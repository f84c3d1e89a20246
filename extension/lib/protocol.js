// @ts-check
// Every message that passes between Flagpost's parts: the port between a content script and the
// background, requests from the extension's pages to the background, and requests from the
// background and the pages to a tab's content script. Names are read from PROTOCOL, never
// written as bare strings; the shapes are the typedefs below.
//
// One file for both kinds of script. This ES module is the source: the background and the
// extension's pages import PROTOCOL from it. Content scripts are classic scripts and cannot
// import, so scripts/build-extension.sh loads this module in node and writes its value into
// extension/content/protocol.js as a script-scope `const flagpostProtocol` (deep-frozen, never
// on the global object), listed before the other content scripts in manifest.json. That file
// is written on every build and not kept in git; content scripts read the typedefs from here
// (`import('../lib/protocol.js').ScanMessage`). PROTOCOL must therefore stay plain data that
// survives JSON: names and lists, no functions. Numeric limits are not defined here: they come
// from the engine (crate/src/limits.rs).

/**
 * Freezes an object and everything in it.
 * @template T
 * @param {T} value
 * @returns {T}
 */
function deepFreeze(value) {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export const PROTOCOL = deepFreeze(/** @type {const} */ ({
  // The port a content script opens to the background (runtime.connect({ name })).
  port: 'flagpost',
  // Content script → background, on the port.
  fromContent: {
    hello: 'hello', // → config
    scan: 'scan', // a batch of posts → verdicts
    mark: 'mark', // a moderator's right/wrong flag, or a missed post → marked
    dismiss: 'dismiss', // a warning dismissed on this site, or the dismissal undone
    help: 'help', // open the help page
    pauseSite: 'pauseSite', // "turn off on this site"
    count: 'count', // how many posts on the page are flagged (the badge)
  },
  // Background → content script, on the port.
  toContent: {
    config: 'config', // site switch, display mode, language and the warning's words
    verdicts: 'verdicts', // the answer to one scan
    marked: 'marked', // the answer to one mark
    rescan: 'rescan', // packs or settings changed: scan every post again
  },
  // Why a scan was answered without verdicts (VerdictsMessage.error).
  scanErrors: {
    busy: 'busy', // the tab's queue is full: send the posts again shortly
    noEngine: 'no engine', // no pack compiles
  },
  // Extension pages → background (runtime.sendMessage).
  fromPage: {
    status: 'status', // → StatusReply
    checkUpdates: 'checkUpdates', // → { report, error? }
    flushCounts: 'flushCounts', // → { ok }
  },
  // Background and extension pages → a tab's content script (tabs.sendMessage).
  toTab: {
    list: 'list', // → ListReply
    scrollTo: 'scrollTo', // → { ok }
    flagPost: 'flagPost', // → FlagPostReply
    scores: 'scores', // → ScoresReply
    next: 'next', // → { ok, index }
  },
  // How "Flag this post" was asked for (FlagPostRequest.via).
  flagVia: ['menu', 'key'],
  // Keyboard commands: the names under "commands" in manifest.json.
  commands: { nextFlagged: 'next-flagged', flagPost: 'flag-post' },
  // The page's context-menu item.
  menuItems: { flagPost: 'flag-post' },
  // Display modes and interface languages a config message may carry.
  modes: ['banner', 'blur', 'highlight'],
  locales: ['en', 'ru', 'uk'],
}));

// ---- shapes ----

/**
 * @typedef {typeof PROTOCOL.modes[number]} DisplayMode
 * @typedef {typeof PROTOCOL.locales[number]} Locale
 */

// Content script → background, on the port.
/**
 * @typedef {{ type: 'hello' }} HelloMessage
 * @typedef {{ type: 'scan', id: number, texts: string[], contexts?: string[] }} ScanMessage
 *   `contexts[i]` is the channel, group or thread title of `texts[i]` ('' for none).
 * @typedef {{ type: 'mark', ref: number, text: string, label: boolean | null, rules: string[],
 *   packs: string[], context?: string, missed?: boolean }} MarkMessage
 *   `label` null takes a mark back; `packs` are "id@version"; `missed` marks a post Flagpost did not flag.
 * @typedef {{ type: 'dismiss', text: string, undo: boolean }} DismissMessage
 * @typedef {{ type: 'help' }} HelpMessage
 * @typedef {{ type: 'pauseSite' }} PauseSiteMessage
 * @typedef {{ type: 'count', flagged: number }} CountMessage
 * @typedef {HelloMessage | ScanMessage | MarkMessage | DismissMessage | HelpMessage | PauseSiteMessage
 *   | CountMessage} ContentMessage
 */

// Background → content script, on the port.
/**
 * @typedef {{ type: 'config', enabled: boolean, mode: DisplayMode, locale: Locale,
 *   strings: Record<string, string> }} ConfigMessage
 * @typedef {{ id: string, pack: string, packVersion: string, category: string, severity: string,
 *   weight: number, description?: string, spans: [number, number][] }} RuleHit
 *   A rule that fired on a post; spans are [start, end) in UTF-16 units of the post's text.
 * @typedef {{ i: number, flagged: boolean, score: number, truncated: boolean, rules: RuleHit[],
 *   shadow?: RuleHit[], mark?: boolean, dismissed?: boolean }} PostVerdict
 *   `i` is the post's index in its scan; `shadow` (hits of count-only packs) never leaves the background;
 *   `mark` and `dismissed` are what the moderator said of this post on this site before.
 * @typedef {{ type: 'verdicts', id: number, results: PostVerdict[], generation: number,
 *   error?: typeof PROTOCOL.scanErrors[keyof typeof PROTOCOL.scanErrors] }} VerdictsMessage
 * @typedef {{ type: 'marked', ref: number, label: boolean | null, ok: boolean }} MarkedMessage
 * @typedef {{ type: 'rescan' }} RescanMessage
 * @typedef {ConfigMessage | VerdictsMessage | MarkedMessage | RescanMessage} BackgroundMessage
 */

// Extension pages → background (runtime.sendMessage), and the answers.
/**
 * @typedef {{ type: 'status' }} StatusRequest
 * @typedef {{ display: string, message?: string }} EngineError
 * @typedef {{ info: object[], errors: EngineError[] | null, failed: object[], generation?: number,
 *   timings?: object | null, storageAccess?: string, storageError?: string | null }} StatusReply
 * @typedef {{ type: 'checkUpdates' }} CheckUpdatesRequest
 * @typedef {{ report: object[], error?: string }} CheckUpdatesReply
 * @typedef {{ type: 'flushCounts' }} FlushCountsRequest
 * @typedef {StatusRequest | CheckUpdatesRequest | FlushCountsRequest} PageRequest
 */

// Background and extension pages → a tab's content script (tabs.sendMessage), and the answers.
/**
 * @typedef {{ type: 'list' }} ListRequest
 * @typedef {RuleHit & { matched: string[] }} FlaggedRule
 * @typedef {{ index: number, text: string, context?: string, score: number, truncated: boolean,
 *   flaggedAt: string, categories: string[], rules: FlaggedRule[], dismissed: boolean,
 *   mark: boolean | null }} FlaggedPost
 * @typedef {{ url: string, title: string, enabled: boolean, adapter: string, posts: FlaggedPost[] }} ListReply
 * @typedef {{ type: 'scrollTo', index: number }} ScrollToRequest
 * @typedef {{ type: 'flagPost', via: typeof PROTOCOL.flagVia[number] }} FlagPostRequest
 * @typedef {{ ok: boolean, flagged?: boolean, reason?: string }} FlagPostReply
 * @typedef {{ type: 'scores' }} ScoresRequest
 * @typedef {{ pack: string, weight: number, category: string }} ScoredHit
 * @typedef {{ url: string, enabled: boolean, scanned: number, posts: ScoredHit[][] }} ScoresReply
 * @typedef {{ type: 'next' }} NextRequest
 * @typedef {{ ok: boolean, index: number }} NextReply
 * @typedef {ListRequest | ScrollToRequest | FlagPostRequest | ScoresRequest | NextRequest} TabRequest
 */
