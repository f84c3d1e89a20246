// @ts-check
// Site adapters: find post elements and the elements holding each post's own text.
// Chosen by page structure (markup the sites' own code depends on), not by host name, so
// saved pages and mirrors work too. The generic adapter covers every other site.

/* global flagpostDom, flagpostText */
/* exported flagpostAdapters */
const flagpostAdapters = (() => {
  const { first, all, closestComposed, ancestors, elementOf, hostOf, oneLine, textOf } = flagpostDom;

  // Page-wide look-ups (a thread title, a group header) are made once a second per document,
  // not once per post.
  const cache = new WeakMap();
  const perDocument = (doc, key, fn) => {
    let entries = cache.get(doc);
    if (!entries) cache.set(doc, (entries = new Map()));
    const now = performance.now();
    const hit = entries.get(key);
    if (hit && now - hit.at < 1000) return hit.value;
    const value = fn();
    entries.set(key, { at: now, value });
    return value;
  };

  // Optional context of a post (channel, group or thread title), as one short line of text.
  const MAX_CONTEXT = 200;
  const joinContext = (...parts) => {
    const seen = [];
    for (const p of parts) {
      const t = typeof p === 'string' ? oneLine(p) : textOf(p);
      if (t && !seen.includes(t)) seen.push(t);
    }
    return seen.join(' — ').slice(0, MAX_CONTEXT);
  };

  // Elements matching `selector` under `post` that belong to it and not to a post nested
  // inside it (a quoted tweet, a repost, a reply).
  const own = (post, selector, postSelector) =>
    all(post, selector).filter((el) => el.parentElement?.closest(postSelector) === post);

  const site = (spec) => ({
    ...spec,
    posts(root) {
      const found = root.matches?.(spec.postSelector) ? [root] : [];
      return found.concat(all(root, spec.postSelector));
    },
    postOf(node) {
      return closestComposed(node, spec.postSelector);
    },
    contextOf(post) {
      try {
        return spec.context ? spec.context(post) : '';
      } catch {
        return '';
      }
    },
    contentOf(post) {
      for (const selector of spec.content) {
        const found = own(post, selector, spec.postSelector);
        if (found.length) return spec.many ? found : [found[0]];
      }
      return spec.fallbackToPost ? [post] : [];
    },
    // Nested posts are scanned on their own.
    exclude(el) {
      return el.matches(spec.postSelector);
    },
  });

  const x = site({
    name: 'x',
    detect: (d) => d.querySelector('article[data-testid="tweet"], [data-testid="tweetText"], [data-testid="cellInnerDiv"] article'),
    postSelector: 'article[data-testid="tweet"], article[data-testid="tweetDetail"], [data-testid="cellInnerDiv"] article[role="article"]',
    content: ['[data-testid="tweetText"]', 'div[lang]'],
  });

  const vk = site({
    name: 'vk',
    detect: (d) => d.querySelector('.wall_post_text, .wall_reply_text, #page_wall_posts, [data-post-id] .wall_text, .wall_item .pi_text, [class*="vkitPostText"]'),
    postSelector: '.post, ._post, [data-post-id], .reply, .wall_item',
    content: ['.wall_post_text', '.wall_reply_text', '.pi_text', '[class*="vkitPostText"]', '.reply_text'],
    // The group (or person) whose wall the post is on: the top-level post's author, else the
    // page's own name.
    context: (post) => {
      const top = [...ancestors(post, '._post, .post, [data-post-id]')].pop() ?? post;
      const doc = post.ownerDocument;
      return joinContext(first(top, '.post_header .author, .PostHeaderTitle__authorName, .post_author .author') ??
        perDocument(doc, 'vk', () => textOf(doc.querySelector('.page_name'))));
    },
  });

  const facebook = site({
    name: 'facebook',
    detect: (d) => d.querySelector('[data-ad-preview="message"], [data-ad-comet-preview="message"], [data-ad-rendering-role="story_message"], [data-pagelet^="FeedUnit"], [data-pagelet*="Feed"] [role="article"]'),
    postSelector: '[role="article"], [data-pagelet^="FeedUnit"], [aria-posinset][aria-labelledby]',
    content: [
      '[data-ad-rendering-role="story_message"]', '[data-ad-preview="message"]', '[data-ad-comet-preview="message"]',
      'div[dir="auto"][style*="text-align"]', 'div[dir="auto"]',
    ],
    many: false,
    // The group the post was shared in (the group page's title), and the post's own heading
    // (page or "person ▸ group"); a comment takes its post's.
    context: (post) => {
      const labelled = post.closest('[role="article"][aria-labelledby]')?.getAttribute('aria-labelledby');
      const heading = labelled ? post.ownerDocument.getElementById(labelled.split(' ')[0]) : null;
      const doc = post.ownerDocument;
      const group = perDocument(doc, 'facebook', () => textOf(doc.querySelector('[role="main"] h1')));
      return joinContext(group, heading);
    },
  });

  const telegram = site({
    name: 'telegram',
    detect: (d) => d.querySelector('.bubbles-inner .bubble, .bubble[data-mid], .messages-container .Message, .Message .text-content, .tgme_widget_message_text'),
    postSelector: '.bubble[data-mid], .bubbles-inner .bubble, .Message, .message-list-item, .tgme_widget_message',
    content: ['.translatable-message', '.text-content', '.tgme_widget_message_text', '.message'],
    // The channel or chat: the name on the message, else the open chat's title.
    context: (post) => joinContext(
      first(post, '.name .peer-title, .tgme_widget_message_owner_name, .message-title, .sender-title') ??
      perDocument(post.ownerDocument, 'telegram', () => textOf(post.ownerDocument.querySelector(
        '.chat .topbar .peer-title, .chat-info .title, .tgme_channel_info_header_title, .ChatInfo .fullName'))),
    ),
  });

  const reddit = site({
    name: 'reddit',
    detect: (d) => d.querySelector('shreddit-post, shreddit-comment, shreddit-app, .thing[data-fullname], #siteTable .thing'),
    postSelector: 'shreddit-post, shreddit-comment, .thing[data-fullname]',
    content: [
      '[slot="title"], [slot="text-body"], [slot="comment"]',
      '.entry a.title, .entry .usertext-body .md',
    ],
    many: true,
    // The subreddit; for a comment also the title of the post it is under.
    context: (post) => {
      const doc = post.ownerDocument;
      if (post.localName === 'shreddit-post') {
        return joinContext(post.getAttribute('subreddit-prefixed-name') ?? post.getAttribute('subreddit-name') ?? '');
      }
      if (post.localName === 'shreddit-comment') {
        return perDocument(doc, 'reddit', () => {
          const parent = doc.querySelector('shreddit-post');
          return joinContext(parent?.getAttribute('subreddit-prefixed-name') ?? '', parent?.getAttribute('post-title') ?? '');
        });
      }
      const sub = post.getAttribute('data-subreddit-prefixed') ?? (post.dataset.subreddit ? `r/${post.dataset.subreddit}` : '');
      const isComment = post.dataset.type === 'comment' || post.classList.contains('comment');
      return joinContext(sub, isComment ? perDocument(doc, 'old-reddit', () => textOf(first(doc, '#siteTable .thing.link a.title'))) : '');
    },
  });

  const mastodon = site({
    name: 'mastodon',
    detect: (d) => d.querySelector('.status__content, .detailed-status__content, #mastodon .status'),
    postSelector: '.status[data-id], .detailed-status, .status:not(.status__wrapper .status)',
    content: ['.status__content__text', '.e-content', '.status__content'],
  });

  // Generic fallback: articles, ARIA roles, microdata, data-testid patterns, common forum
  // and comment markup, and failing those, runs of similar siblings with text (a feed).
  const GENERIC_POSTS = [
    'article', '[role="article"]', '[role="comment"]', '[role="feed"] > [role="listitem"]',
    '[itemtype*="SocialMediaPosting"]', '[itemtype*="Comment"]', '[itemtype*="DiscussionForumPosting"]',
    '[itemprop="comment"]', '[data-testid="post"]', '[data-testid="comment"]', '[data-testid$="-post"]',
    '[data-testid^="post-"][data-testid$="container"]', '[data-testid="message"]',
    '.post', '.comment', '.message', '.topic-post', '.forum-post', '.postbit', '.postbitlegacy',
    '.feed-item', '.feed__item', '.timeline-item', '.reply', '.entry-comment',
  ].join(',');
  const GENERIC_CONTENT = [
    '[itemprop="text"]', '[itemprop="articleBody"]', '[itemprop="commentText"]', '[data-testid$="text"]',
    '[data-testid$="body"]', '.postbody .content', '.post-content', '.post-body', '.post-text', '.postbody',
    '.message-body', '.message-content', '.messageText', '.bbWrapper', '.cooked', '.comment-content',
    '.comment-body', '.comment-text', '.entry-content', '.content', '.text', '.body',
  ];
  const MIN_TEXT = 20;

  // Candidate post elements that are really controls or chrome are dropped. A post marked up
  // as one is read whatever its length ("make hijra now" is short) and wherever it sits
  // (comments in an article's <footer>); a run of similar siblings needs some text to count.
  const looksLikePost = (el, marked = true) => {
    if (el.closest('button, nav, header[role="banner"], [role="navigation"]')) return false;
    if (el.matches('input, textarea, select, flagpost-warning')) return false;
    const length = el.textContent?.trim().length ?? 0;
    return marked ? length > 0 : length >= MIN_TEXT;
  };

  // Thread or topic titles of forum software, where the page shows one.
  const THREAD_TITLE = [
    '[itemtype*="DiscussionForumPosting"] [itemprop="headline"]', '.topic-title', '.thread-title',
    '.p-title-value', '#topic-title .fancy-title', '.fancy-title', '.threadtitle', '.topictitle',
    'h1[itemprop="headline"]', '.thread-header h1',
  ].join(',');

  const signature = (el) => el.tagName + '.' + Array.from(el.classList).sort().join('.');

  // Containers (with their child signature) whose children look like a feed of posts.
  const feeds = new Map();

  function findFeeds(root, limit = 15000) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
    let seen = 0;
    let el = /** @type {Element | null} */ (walker.currentNode);
    while (el && seen++ < limit) {
      if (el.childElementCount >= 3 && !feeds.has(el) && !el.closest('nav, header, [role="navigation"]')) {
        const counts = new Map();
        for (const child of el.children) {
          if ((child.textContent?.length ?? 0) < 40) continue;
          const sig = signature(child);
          counts.set(sig, (counts.get(sig) ?? 0) + 1);
        }
        for (const [sig, n] of counts) {
          if (n >= 3 && n * 2 >= el.childElementCount) {
            feeds.set(el, sig);
            break;
          }
        }
      }
      el = /** @type {Element | null} */ (walker.nextNode());
    }
  }

  const inFeed = (el) => {
    const parent = el.parentElement;
    return parent && feeds.get(parent) === signature(el);
  };

  const generic = {
    name: 'generic',
    detect: () => true,
    usesFeeds: true,
    posts(root) {
      const out = [];
      if (typeof root.querySelectorAll !== 'function') return out;
      const element = root.nodeType === Node.ELEMENT_NODE;
      if (element && ((root.matches(GENERIC_POSTS) && looksLikePost(root)) || (inFeed(root) && looksLikePost(root, false)))) out.push(root);
      for (const el of root.querySelectorAll(GENERIC_POSTS)) if (looksLikePost(el)) out.push(el);
      if (!out.length) {
        // No marked-up posts here: look for a feed of repeated siblings.
        const start = element ? root : (root.body ?? root.firstElementChild ?? null);
        if (start) findFeeds(start);
        for (const [container, sig] of feeds) {
          if (!root.contains(container) && !container.contains(root)) continue;
          for (const child of container.children) {
            if (signature(child) === sig && root.contains(child) && looksLikePost(child, false)) out.push(child);
            else if (child.contains(root) && signature(child) === sig) out.push(child);
          }
        }
      }
      // Posts that only wrap other posts (a thread, a page-wide article) have no text of their own.
      return out.filter((el) => !isPureWrapper(el));
    },
    postOf(node) {
      let el = elementOf(node);
      while (el && el !== el.ownerDocument.body) {
        if ((el.matches(GENERIC_POSTS) && looksLikePost(el)) || inFeed(el)) return el;
        el = el.parentElement ?? hostOf(el);
      }
      return null;
    },
    contextOf(post) {
      try {
        const doc = post.ownerDocument;
        return perDocument(doc, 'thread', () => joinContext(doc.querySelector(THREAD_TITLE)));
      } catch {
        return '';
      }
    },
    contentOf(post) {
      for (const selector of GENERIC_CONTENT) {
        const found = post.querySelector(selector);
        if (found && generic.postOf(found) === post && (found.textContent?.length ?? 0) >= MIN_TEXT) return [found];
      }
      return [post];
    },
    exclude(el) {
      return el.matches(GENERIC_POSTS) || inFeed(el);
    },
  };

  function isPureWrapper(el) {
    const inner = el.querySelector(GENERIC_POSTS);
    if (!inner) return false;
    const ownText = flagpostText.extract([el], (n) => n !== el && (n.matches(GENERIC_POSTS) || inFeed(n))).text;
    return ownText.trim().length < MIN_TEXT;
  }

  const specific = [x, vk, telegram, reddit, mastodon, facebook];

  function choose(doc) {
    return specific.find((a) => a.detect(doc)) ?? generic;
  }

  return { choose, generic, specific };
})();
