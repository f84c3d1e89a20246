// Site adapters: find post elements and the elements holding each post's own text.
// Chosen by page structure (markup the sites' own code depends on), not by host name, so
// saved pages and mirrors work too. The generic adapter covers every other site.

/* exported flagpostAdapters */
const flagpostAdapters = (() => {
  const first = (el, selector) => (selector ? el.querySelector(selector) : null);
  const all = (el, selector) => Array.from(el.querySelectorAll(selector));

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
      const el = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
      return el?.closest(spec.postSelector) ?? null;
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
  });

  const telegram = site({
    name: 'telegram',
    detect: (d) => d.querySelector('.bubbles-inner .bubble, .bubble[data-mid], .messages-container .Message, .Message .text-content, .tgme_widget_message_text'),
    postSelector: '.bubble[data-mid], .bubbles-inner .bubble, .Message, .message-list-item, .tgme_widget_message',
    content: ['.translatable-message', '.text-content', '.tgme_widget_message_text', '.message'],
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

  // Candidate post elements that are really controls or chrome are dropped.
  const looksLikePost = (el) => {
    if (el.closest('button, [role="button"], nav, header[role="banner"], footer, [role="navigation"]')) return false;
    if (el.matches('input, textarea, select, flagpost-warning')) return false;
    return (el.textContent?.length ?? 0) >= MIN_TEXT;
  };

  const signature = (el) => el.tagName + '.' + Array.from(el.classList).sort().join('.');

  // Containers (with their child signature) whose children look like a feed of posts.
  const feeds = new Map();

  function findFeeds(root, limit = 15000) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
    let seen = 0;
    let el = walker.currentNode;
    while (el && seen++ < limit) {
      if (el.childElementCount >= 3 && !feeds.has(el) && !el.closest('nav, header, footer, [role="navigation"]')) {
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
      el = walker.nextNode();
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
      if (root.nodeType !== Node.ELEMENT_NODE) return out;
      if ((root.matches(GENERIC_POSTS) || inFeed(root)) && looksLikePost(root)) out.push(root);
      for (const el of root.querySelectorAll(GENERIC_POSTS)) if (looksLikePost(el)) out.push(el);
      if (!out.length) {
        // No marked-up posts here: look for a feed of repeated siblings.
        findFeeds(root);
        for (const [container, sig] of feeds) {
          if (!root.contains(container) && !container.contains(root)) continue;
          for (const child of container.children) {
            if (signature(child) === sig && root.contains(child) && looksLikePost(child)) out.push(child);
            else if (child.contains(root) && signature(child) === sig) out.push(child);
          }
        }
      }
      // Posts that only wrap other posts (a thread, a page-wide article) have no text of their own.
      return out.filter((el) => !isPureWrapper(el));
    },
    postOf(node) {
      let el = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
      while (el && el !== document.body) {
        if ((el.matches(GENERIC_POSTS) && looksLikePost(el)) || inFeed(el)) return el;
        el = el.parentElement;
      }
      return null;
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
