// Worker cold starts in headless Chromium, shared by bench.mjs and cold-ab.mjs: for each pair
// of consecutive posts, scan the first with a running worker, stop the worker, then time the
// second from insertion to its Flagpost marker, and read the worker's own start-up timings.

/**
 * @param {{ context: import('playwright-core').BrowserContext, extensionId: string, extensionUrl: (p: string) => string }} ext
 * @param {string} origin  the fixture server's origin (serves bench.html)
 * @param {string[]} posts  n + 1 posts for n cold starts
 * @param {{ pauseAfterStop?: number }} options  milliseconds to wait once the worker is stopped
 * @returns {Promise<{ cold: number[], timings: object[] }>}
 */
export async function measureColdStarts(ext, origin, posts, { pauseAfterStop = 0 } = {}) {
  const cold = [];
  const timings = [];
  const statusPage = await ext.context.newPage();
  await statusPage.goto(ext.extensionUrl('extension/options/options.html'));
  await statusPage.waitForSelector('body[data-ready="true"]');
  const feed = await ext.context.newPage();
  await feed.goto(`${origin}/bench.html`);
  const cdp = await ext.context.newCDPSession(feed);
  await cdp.send('ServiceWorker.enable');
  let status = '';
  cdp.on('ServiceWorker.workerVersionUpdated', (e) => {
    for (const v of e.versions) if (v.scriptURL.includes(ext.extensionId)) status = v.runningStatus;
  });
  const scan = (p) => feed.evaluate((post) => window.runFeedBench({ posts: [post], batch: 1, settle: 10000 }), p);
  for (let i = 0; i + 1 < posts.length; i++) {
    await scan(posts[i]);
    await cdp.send('ServiceWorker.stopAllWorkers');
    const until = Date.now() + 5000;
    while (status !== 'stopped' && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (pauseAfterStop) await new Promise((r) => setTimeout(r, pauseAfterStop));
    cold.push((await scan(posts[i + 1])).marked[0]);
    timings.push((await statusPage.evaluate(() => chrome.runtime.sendMessage({ type: 'status' }))).timings);
  }
  await statusPage.close();
  await feed.close();
  return { cold, timings };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
