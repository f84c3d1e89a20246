// Names the extension's scripts use that no checked file declares.

// Firefox's extension API. Flagpost uses the part it shares with Chromium's `chrome`, with
// promises, so it is typed as that; lib/browser.js picks whichever the browser has.
declare var browser: typeof chrome | undefined;

// The content scripts' copy of PROTOCOL, written by scripts/write-content-protocol.mjs into
// extension/content/protocol.js (not kept in git, so not part of the check).
declare const flagpostProtocol: typeof import('../lib/protocol.js').PROTOCOL;

// The content scripts' copy of the engine's limits, written by scripts/after-wasm.mjs into
// extension/content/limits.js from the built module (crate/src/limits.rs is the one source).
declare const flagpostLimits: typeof import('../lib/limits.js').LIMITS;
