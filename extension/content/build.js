// @ts-check
// Build flags for the content scripts. scripts/build-extension.sh turns testMarkers on only in
// the test build (FLAGPOST_TEST_MARKERS=1); the build users install leaves nothing on the page
// that says what Flagpost found. A top-level const lives in the script scope, not on the
// global object, so a page's named elements (id="flagpostBuild") cannot stand in for it.

/* exported flagpostBuild */
const flagpostBuild = Object.freeze(/** @type {{ testMarkers: boolean }} */ ({ testMarkers: false }));
