// @ts-check
// The threshold preview: from the rule hits of the posts on a page, how many posts a threshold
// would flag. Mirrors the engine's rule: a post is flagged when, for some pack, the weights of
// its rules that fired add up to the threshold (the pack's own, or the one set in the options).
// Count-only packs are left out by the content script, as they never flag.

// posts: [[{ pack, weight }]]; thresholds: { packId: own threshold }; override: number | null.
export function countFlagged(posts, thresholds, override = null) {
  let n = 0;
  for (const hits of posts) {
    const byPack = new Map();
    for (const h of hits) byPack.set(h.pack, (byPack.get(h.pack) ?? 0) + h.weight);
    for (const [pack, score] of byPack) {
      const limit = override ?? thresholds[pack];
      if (limit != null && score > 0 && score + 1e-9 >= limit) {
        n += 1;
        break;
      }
    }
  }
  return n;
}
