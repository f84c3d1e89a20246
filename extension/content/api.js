// @ts-check
// The extension API for the content scripts, taken as the page starts to load.
//
// In Chromium a page's named elements show up on the content script's global object, and a
// page that has <form name="chrome"> or <div id="browser"> when the content script's world is
// created keeps Chromium from installing `chrome` or `browser` there at all: the names then
// stand for the page's elements. This script runs at document_start, before the page's markup
// is parsed, so the world is created (and the API installed) while the page has no elements to
// shadow it; the scripts that run later read the API from this script-scope const, which page
// elements cannot stand in for. A candidate is used only if it really is the API.

/* exported flagpostApi */
const flagpostApi = (() => {
  const real = (v) => (v !== null && typeof v === 'object' && typeof v.runtime?.connect === 'function' &&
    typeof v.runtime?.onMessage?.addListener === 'function' && typeof v.runtime?.id === 'string' ? v : null);
  /* global chrome, browser */
  return real(typeof chrome === 'undefined' ? null : chrome) ?? real(typeof browser === 'undefined' ? null : browser);
})();
