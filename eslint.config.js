// ESLint for the extension's scripts, the end-to-end tests and the build scripts: `npm run lint`
// (run by `./build.sh test` before the slow steps).
//
// eslint:recommended plus rules that catch real bugs. The content scripts are classic scripts
// that share one script scope: each names the scripts it reads from in a /* global */ comment and
// the consts it defines for later ones in an /* exported */ comment, and no-implicit-globals keeps
// them from putting anything on the global object (a top-level `var` or `function` would land
// there, where a page's named elements can stand in for it).

import js from '@eslint/js';
import globals from 'globals';

const bugs = {
  'no-unused-vars': ['error', { args: 'after-used', caughtErrors: 'none', ignoreRestSiblings: true }],
  eqeqeq: ['error', 'smart'],
  'prefer-const': ['error', { destructuring: 'all' }],
  'no-var': 'error',
  'no-self-compare': 'error',
  'no-template-curly-in-string': 'error',
  'no-unreachable-loop': 'error',
  'no-throw-literal': 'error',
  'no-return-assign': ['error', 'except-parens'],
  'no-sequences': 'error',
  'array-callback-return': 'error',
};

export default [
  {
    ignores: [
      'extension/pkg/**', // written by wasm-bindgen
      'extension/content/protocol.js', // written by scripts/build-extension.sh from extension/lib/protocol.js
      'extension/lib/limits.js', 'extension/content/limits.js', // written by scripts/after-wasm.mjs from the engine
      'dist/**', 'target/**', 'node_modules/**', 'tests/artifacts/**',
    ],
  },
  js.configs.recommended,
  { rules: bugs },
  // The background and the extension's own pages: ES modules in the browser.
  {
    files: ['extension/**/*.js'],
    ignores: ['extension/content/**'],
    languageOptions: {
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.webextensions },
    },
  },
  // Content scripts: classic scripts in the isolated world, sharing one script scope.
  {
    files: ['extension/content/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { ...globals.browser },
    },
    rules: {
      'no-implicit-globals': 'error',
      // `chrome` and `browser` are read once, at document_start, in api.js; later they may
      // name the page's elements.
      'no-restricted-globals': ['error',
        { name: 'chrome', message: 'Use flagpostApi (content/api.js): by now `chrome` may name a page element.' },
        { name: 'browser', message: 'Use flagpostApi (content/api.js): by now `browser` may name a page element.' },
        { name: 'globalThis', message: 'Content scripts keep no state on the global object: page elements shadow it.' },
        { name: 'window', message: 'Content scripts keep no state on the global object: page elements shadow it.' },
      ],
    },
  },
  {
    // api.js is the one place that reads the browser's extension API in a content script.
    files: ['extension/content/api.js'],
    rules: { 'no-restricted-globals': 'off' },
  },
  // Test fixture pages' own scripts: classic scripts of ordinary web pages.
  {
    files: ['tests/fixtures/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser } },
  },
  // Tests, benchmarks and build scripts run in node; code they hand to a browser (page.evaluate)
  // runs in a page or in the extension.
  {
    files: ['tests/**/*.mjs', 'scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { ...globals.node, ...globals.browser, ...globals.webextensions },
    },
  },
];
