//! Limits that keep compile and scan cost bounded for untrusted packs and hostile pages.

/// Posts are scanned up to this many bytes of UTF-8 (cut on a char boundary); the verdict
/// says when a post was cut.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Size of one pack file.
pub const MAX_PACK_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_RULES_PER_PACK: usize = 5_000;
/// Phrases across all packs loaded into one engine.
pub const MAX_PHRASES: usize = 200_000;
/// Regexes across all packs loaded into one engine.
pub const MAX_REGEXES: usize = 2_000;
pub const MAX_PHRASE_CHARS: usize = 200;
pub const MAX_REGEX_CHARS: usize = 2_000;
/// Steps of one regex's program: what a post pays per character where the regex runs.
pub const MAX_REGEX_STEPS: usize = 5_000;
/// Regex work per post, in threads advanced by one character, over all regexes: a hostile
/// regex (`\w{0,2400}q` on 64 KiB of letters would take seconds) stops here and matches
/// nothing more in that post. The shipped pack's regexes use a few hundred on most posts.
pub const MAX_REGEX_WORK: usize = 2_000_000;
pub const MAX_CONDITION_DEPTH: usize = 16;
pub const MAX_NEAR_WINDOW: usize = 100;
/// Matches kept per condition leaf and post; more add nothing to a verdict.
pub const MAX_HITS_PER_LEAF: usize = 64;
/// Weights of one learned n-gram model.
pub const MAX_MODEL_FEATURES: usize = 200_000;
/// Posts per batch a content script sends to the engine.
pub const BATCH_POSTS: usize = 100;
/// Separates posts in a batch string. A post's own U+001E becomes a space, which keeps every
/// UTF-16 offset in place.
pub const POST_SEPARATOR: char = '\u{1e}';
/// Separates a post's context from its text inside a batch string.
pub const CONTEXT_SEPARATOR: char = '\u{1f}';
