//! The shapes that cross between the engine and its callers: the extension's JavaScript
//! (through `serde-wasm-bindgen`) and the command line's JSON. One definition, serialised
//! with camelCase names for JavaScript, so neither side writes the other's format by hand.
//!
//! The hot path does not use these: verdicts of a batch cross as typed arrays (see
//! [`BatchVerdicts`]), with no per-post objects.

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, EngineOptions, PackInfo};
use crate::error::{ErrorKind, PackError, PackErrors};
use crate::pack::RulePack;
use crate::verdict::{convert_offsets, utf16_unit, Verdict};

/// A problem in a pack, with where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    pub kind: ErrorKind,
    pub origin: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub rule: Option<String>,
    pub message: String,
    /// `file:line:column: rule `id`: message`, for people.
    pub display: String,
}

impl From<&PackError> for WireError {
    fn from(e: &PackError) -> Self {
        WireError {
            kind: e.kind,
            origin: e.origin.clone(),
            line: e.line,
            column: e.column,
            rule: e.rule.clone(),
            message: e.message.clone(),
            display: e.to_string(),
        }
    }
}

pub fn wire_errors(e: &PackErrors) -> Vec<WireError> {
    e.0.iter().map(WireError::from).collect()
}

/// A pack's source as the extension stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackSource {
    /// A file name; `.json` means JSON, anything else TOML.
    pub name: String,
    pub source: String,
}

/// What a user set beside the packs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct EngineSettings {
    /// (pack id, rule id) pairs switched off.
    pub disabled_rules: Vec<(String, String)>,
    /// Packs that are evaluated and counted but never flag.
    pub shadow_packs: Vec<String>,
    /// Packs left out.
    pub disabled_packs: Vec<String>,
    /// Replaces every pack's threshold.
    pub threshold: Option<f64>,
    /// Categories whose rules are switched off, in every pack.
    pub disabled_categories: Vec<String>,
}

impl EngineSettings {
    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            disabled_rules: self.disabled_rules.clone(),
            shadow_packs: self.shadow_packs.clone(),
            threshold: self.threshold,
        }
    }
}

/// A pack that could not join the others, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedPack {
    /// Where it came from (its file name).
    pub origin: String,
    pub id: Option<String>,
    pub version: Option<String>,
    pub errors: Vec<WireError>,
}

/// The packs an engine is built from: a later pack replaces an earlier one with the same id
/// (an imported pack replaces the shipped one), switched-off packs are left out, and the rules
/// of switched-off categories join the switched-off rules. This is the one place that decides
/// which packs are in use.
pub fn select_packs(
    packs: Vec<RulePack>,
    settings: &EngineSettings,
) -> (Vec<RulePack>, EngineOptions) {
    let ids: Vec<Option<&str>> = packs.iter().map(|p| Some(p.id.as_str())).collect();
    let uses = pack_use(&ids, settings);
    let mut keep = uses.iter().map(|u| u.active);
    let mut packs = packs;
    packs.retain(|_| keep.next().unwrap_or(false));
    let mut options = settings.options();
    if !settings.disabled_categories.is_empty() {
        for p in &packs {
            for r in &p.rules {
                if settings.disabled_categories.contains(&r.category) {
                    options.disabled_rules.push((p.id.clone(), r.id.clone()));
                }
            }
        }
    }
    (packs, options)
}

/// Whether a pack is used, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackUse {
    /// A later pack has the same id (an imported pack replaces the shipped one).
    pub replaced: bool,
    /// Read, not replaced and not switched off.
    pub active: bool,
}

/// For packs in load order (shipped first, then the user's, oldest first), identified by id
/// (`None` for one that cannot be read), whether each is used.
pub fn pack_use(ids: &[Option<&str>], settings: &EngineSettings) -> Vec<PackUse> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| match id {
            None => PackUse::default(),
            Some(id) => {
                let replaced = ids[i + 1..].iter().any(|later| later == &Some(*id));
                PackUse {
                    replaced,
                    active: !replaced && !settings.disabled_packs.iter().any(|d| d == id),
                }
            }
        })
        .collect()
}

/// What an engine image is built from: the compiled packs, in order, and the settings. An
/// image is loaded only for the same key (see [`crate::engine::image`]).
pub fn engine_key(blobs: &[&[u8]], settings: &EngineSettings) -> u64 {
    let mut bytes = postcard::to_allocvec(settings).expect("settings serialise");
    for blob in blobs {
        bytes.extend_from_slice(&crate::compiled::digest(blob).to_le_bytes());
    }
    crate::compiled::digest(&bytes)
}

/// Builds an engine from the packs in use, keeping every pack that works: when the set does
/// not compile together, packs are added one at a time in order and each that still compiles
/// beside those kept is kept. One bad or oversized pack never takes the others down.
/// Fails only when no pack at all can be used.
pub fn build_keeping(
    packs: Vec<RulePack>,
    settings: &EngineSettings,
) -> Result<(Engine, Vec<FailedPack>), PackErrors> {
    let (packs, options) = select_packs(packs, settings);
    let whole = match Engine::compile(&packs, &options) {
        Ok(engine) => return Ok((engine, Vec::new())),
        Err(e) => e,
    };
    let mut kept: Vec<RulePack> = Vec::new();
    let mut failed = Vec::new();
    for pack in packs {
        kept.push(pack);
        if let Err(e) = Engine::compile(&kept, &options) {
            let pack = kept.pop().expect("just pushed");
            failed.push(FailedPack {
                origin: pack.origin,
                id: Some(pack.id),
                version: Some(pack.version),
                errors: wire_errors(&e),
            });
        }
    }
    if kept.is_empty() {
        return Err(whole);
    }
    let engine = Engine::compile(&kept, &options)?;
    Ok((engine, failed))
}

/// A loaded pack, for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackSummary {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub license: String,
    pub languages: Vec<String>,
    pub threshold: f64,
    pub shadow: bool,
    pub rules: Vec<RuleSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSummary {
    pub id: String,
    pub category: String,
    pub description: String,
    pub severity: String,
    pub weight: f64,
    pub enabled: bool,
}

impl From<&PackInfo> for PackSummary {
    fn from(p: &PackInfo) -> Self {
        PackSummary {
            id: p.id.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            description: p.description.clone(),
            license: p.license.clone(),
            languages: p.languages.clone(),
            threshold: p.threshold,
            shadow: p.shadow,
            rules: p
                .rules
                .iter()
                .map(|r| RuleSummary {
                    id: r.id.clone(),
                    category: r.category.clone(),
                    description: r.description.clone(),
                    severity: r.severity.as_str().to_string(),
                    weight: r.weight,
                    enabled: r.enabled,
                })
                .collect(),
        }
    }
}

/// One rule that fired, for people (the playground, exports): spans in UTF-16 offsets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireRuleHit {
    pub pack: String,
    pub pack_version: String,
    pub id: String,
    pub category: String,
    pub severity: String,
    pub weight: f64,
    pub shadow: bool,
    pub description: String,
    pub spans: Vec<[usize; 2]>,
    /// Spans of the post's context (channel or thread title).
    pub context_spans: Vec<[usize; 2]>,
}

/// A whole verdict, for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireVerdict {
    pub flagged: bool,
    pub score: f64,
    pub categories: Vec<String>,
    pub truncated: bool,
    pub rules: Vec<WireRuleHit>,
}

impl WireVerdict {
    pub fn new(packs: &[PackInfo], text: &str, context: &str, v: &Verdict) -> WireVerdict {
        let utf16 = |s: &str, spans: &[crate::Span]| -> Vec<[usize; 2]> {
            let mut flat: Vec<usize> = spans.iter().flat_map(|sp| [sp.start, sp.end]).collect();
            convert_offsets(s, &mut flat, utf16_unit);
            flat.chunks(2).map(|c| [c[0], c[1]]).collect()
        };
        WireVerdict {
            flagged: v.flagged,
            score: v.score,
            categories: v.categories.clone(),
            truncated: v.truncated,
            rules: v
                .rules
                .iter()
                .map(|r| {
                    let pack = &packs[r.pack];
                    WireRuleHit {
                        pack: pack.id.clone(),
                        pack_version: pack.version.clone(),
                        id: r.id.clone(),
                        category: r.category.clone(),
                        severity: r.severity.as_str().to_string(),
                        weight: r.weight,
                        shadow: r.shadow,
                        description: pack.rules[r.rule].description.clone(),
                        spans: utf16(text, &r.spans),
                        context_spans: utf16(context, &r.context_spans),
                    }
                })
                .collect(),
        }
    }
}

/// An example that did not behave as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireExampleFailure {
    pub rule: Option<String>,
    pub expect_flag: bool,
    pub text: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireExamples {
    pub passed: usize,
    pub failures: Vec<WireExampleFailure>,
}

impl From<&crate::ExampleReport> for WireExamples {
    fn from(r: &crate::ExampleReport) -> Self {
        WireExamples {
            passed: r.passed,
            failures: r
                .failures
                .iter()
                .map(|f| WireExampleFailure {
                    rule: f.rule.clone(),
                    expect_flag: f.expect_flag,
                    text: f.text.clone(),
                    message: f.message.clone(),
                })
                .collect(),
        }
    }
}

/// What checking one pack found: it parses, compiles alone, and its examples pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub ok: bool,
    pub pack: Option<PackSummary>,
    pub errors: Vec<WireError>,
    pub examples: Option<WireExamples>,
}

/// A pack source as the options page lists it: what it declares (or why it cannot be read),
/// and whether it is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedPack {
    #[serde(flatten)]
    pub summary: SourceSummary,
    #[serde(flatten)]
    pub used: PackUse,
}

/// A pack source named by what it declares, or why it cannot be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SourceSummary {
    Pack {
        id: String,
        name: String,
        version: String,
    },
    Errors {
        errors: Vec<WireError>,
    },
}

/// The verdicts of a batch as flat arrays, built without allocating per post: only posts
/// with a rule that fired are listed.
///
/// - `posts`: per listed post `[index, flags, first hit, hit count]`; flags bit 0 flagged,
///   bit 1 truncated;
/// - `scores`: per listed post, its score;
/// - `hits`: per rule that fired `[pack, rule, shadow, first span, span count]`;
/// - `spans`: UTF-16 `[start, end]` offsets into the post's text, two numbers per span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchVerdicts {
    pub posts: Vec<u32>,
    pub scores: Vec<f64>,
    pub hits: Vec<u32>,
    pub spans: Vec<u32>,
    offsets: Vec<usize>,
}

pub const POST_FIELDS: usize = 4;
pub const HIT_FIELDS: usize = 5;

impl BatchVerdicts {
    pub fn clear(&mut self) {
        self.posts.clear();
        self.scores.clear();
        self.hits.clear();
        self.spans.clear();
    }

    /// Adds post `index` if any rule fired on it.
    pub fn push(&mut self, index: usize, text: &str, v: &Verdict) {
        if v.rules.is_empty() {
            return;
        }
        v.span_offsets(text, utf16_unit, &mut self.offsets);
        let flags = u32::from(v.flagged) | (u32::from(v.truncated) << 1);
        self.posts.extend_from_slice(&[
            index as u32,
            flags,
            (self.hits.len() / HIT_FIELDS) as u32,
            v.rules.len() as u32,
        ]);
        self.scores.push(v.score);
        let mut k = 0;
        for r in &v.rules {
            self.hits.extend_from_slice(&[
                r.pack as u32,
                r.rule as u32,
                u32::from(r.shadow),
                (self.spans.len() / 2) as u32,
                r.spans.len() as u32,
            ]);
            for _ in &r.spans {
                self.spans
                    .extend_from_slice(&[self.offsets[k] as u32, self.offsets[k + 1] as u32]);
                k += 2;
            }
        }
    }
}

/// Numbers that the engine and the extension must agree on, from one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// The longest post scanned, in UTF-8 bytes; the rest is cut and the verdict says so.
    pub max_text_bytes: usize,
    /// The longest post the extension sends, in UTF-16 units: no post longer than this can be
    /// within `max_text_bytes` of UTF-8 only by its first part, so sending more is waste.
    pub max_text_utf16: usize,
    /// Posts per batch the content script sends.
    pub batch_posts: usize,
    /// Separates posts in a batch string.
    pub post_separator: char,
    /// Separates a post's context from its text.
    pub context_separator: char,
    pub max_pack_bytes: usize,
    pub compiled_format: u32,
}

pub fn limits() -> Limits {
    Limits {
        max_text_bytes: crate::limits::MAX_TEXT_BYTES,
        max_text_utf16: crate::limits::MAX_TEXT_BYTES,
        batch_posts: crate::limits::BATCH_POSTS,
        post_separator: crate::limits::POST_SEPARATOR,
        context_separator: crate::limits::CONTEXT_SEPARATOR,
        max_pack_bytes: crate::limits::MAX_PACK_BYTES,
        compiled_format: crate::compiled::FORMAT_VERSION,
    }
}

/// Splits a batch string into posts, each with its context when it has one.
pub fn split_batch(joined: &str) -> impl Iterator<Item = (Option<&str>, &str)> {
    joined.split(crate::limits::POST_SEPARATOR).map(|post| {
        match post.split_once(crate::limits::CONTEXT_SEPARATOR) {
            Some((c, t)) => (Some(c), t),
            None => (None, post),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_settings_use_javascript_names() {
        let e = PackError::new("p.toml", "bad")
            .at(Some((3, 4)))
            .in_rule("r")
            .kind(ErrorKind::Regex);
        let v = serde_json::to_value(WireError::from(&e)).unwrap();
        assert_eq!(v["kind"], "regex");
        assert_eq!(v["display"], "p.toml:3:4: rule `r`: bad");
        let s: EngineSettings = serde_json::from_str(
            r#"{"disabledRules":[["p","r"]],"shadowPacks":["t"],"threshold":2.0}"#,
        )
        .unwrap();
        assert_eq!(s.options().disabled_rules, vec![("p".into(), "r".into())]);
        assert!(serde_json::from_str::<EngineSettings>(r#"{"thresold":1}"#).is_err());
        let l = serde_json::to_value(limits()).unwrap();
        assert_eq!(l["maxTextBytes"], 65536);
        assert_eq!(l["postSeparator"], "\u{1e}");
    }

    #[test]
    fn batches_split_and_flatten() {
        let posts: Vec<_> = split_batch("a\u{1e}ctx\u{1f}b\u{1e}").collect();
        assert_eq!(posts, vec![(None, "a"), (Some("ctx"), "b"), (None, "")]);
        let mut b = BatchVerdicts::default();
        let v = Verdict {
            flagged: true,
            score: 1.5,
            rules: vec![crate::RuleHit {
                pack: 0,
                rule: 2,
                id: "r".into(),
                category: "c".into(),
                severity: crate::Severity::High,
                weight: 1.5,
                shadow: false,
                spans: vec![crate::Span { start: 4, end: 8 }],
                context_spans: vec![],
            }],
            ..Verdict::default()
        };
        b.push(7, "😀 ab cd", &v);
        b.push(8, "x", &Verdict::default());
        assert_eq!(b.posts, vec![7, 1, 0, 1]);
        assert_eq!(b.hits, vec![0, 2, 0, 0, 1]);
        // "😀" is two UTF-16 units: byte 4 is unit 2.
        assert_eq!(b.spans, vec![2, 6]);
        assert_eq!(b.scores, vec![1.5]);
    }

    #[cfg(feature = "authoring")]
    fn pack(id: &str, version: &str, extra: &str) -> RulePack {
        let src = format!(
            "id = \"{id}\"\nname = \"{id}\"\nversion = \"{version}\"\nlicense = \"CC0-1.0\"\nthreshold = 1.0\n\
             [[rules]]\nid = \"r\"\ncategory = \"c_{id}\"\nseverity = \"low\"\nweight = 1.0\ndescription = \"d\"\n\
             condition = {{ any = [{{ phrases = [\"word {id}\"] }}{extra}] }}\n"
        );
        crate::parse_pack(&src, crate::PackFormat::Toml, &format!("{id}.toml")).unwrap()
    }

    #[cfg(feature = "authoring")]
    #[test]
    fn a_later_pack_replaces_one_with_its_id_and_settings_leave_packs_and_categories_out() {
        let packs = vec![
            pack("a", "1.0.0", ""),
            pack("b", "1.0.0", ""),
            pack("a", "2.0.0", ""),
        ];
        let (kept, options) = select_packs(packs.clone(), &EngineSettings::default());
        let ids: Vec<_> = kept
            .iter()
            .map(|p| (p.id.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(ids, vec![("b", "1.0.0"), ("a", "2.0.0")]);
        assert!(options.disabled_rules.is_empty());
        let settings = EngineSettings {
            disabled_packs: vec!["b".into()],
            disabled_categories: vec!["c_a".into()],
            ..EngineSettings::default()
        };
        let (kept, options) = select_packs(packs, &settings);
        assert_eq!(kept.len(), 1);
        assert_eq!(options.disabled_rules, vec![("a".into(), "r".into())]);
    }

    #[cfg(feature = "authoring")]
    #[test]
    fn a_pack_that_cannot_join_the_others_is_left_out_and_named() {
        // Each pack alone is within the regex limit; the two together are not.
        let many = |id: &str| {
            (0..crate::limits::MAX_REGEXES / 2 + 10)
                .map(|i| format!(", {{ regex = 'q{id}x{i}[0-9]{{2}}' }}"))
                .collect::<String>()
        };
        let packs = vec![
            pack("a", "1.0.0", &many("a")),
            pack("b", "1.0.0", &many("b")),
        ];
        let (engine, failed) = build_keeping(packs, &EngineSettings::default()).unwrap();
        assert_eq!(engine.packs().len(), 1);
        assert_eq!(engine.packs()[0].id, "a");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id.as_deref(), Some("b"));
        assert_eq!(failed[0].origin, "b.toml");
        assert!(
            failed[0].errors[0].display.contains("limit"),
            "{:?}",
            failed[0].errors
        );
    }

    #[test]
    fn a_pack_is_used_unless_unreadable_replaced_later_or_switched_off() {
        let settings = EngineSettings {
            disabled_packs: vec!["c".into()],
            ..EngineSettings::default()
        };
        let uses = pack_use(
            &[Some("a"), None, Some("b"), Some("a"), Some("c")],
            &settings,
        );
        let pairs: Vec<(bool, bool)> = uses.iter().map(|u| (u.replaced, u.active)).collect();
        assert_eq!(
            pairs,
            vec![
                (true, false),
                (false, false),
                (false, true),
                (false, true),
                (false, false)
            ]
        );
        let listed = serde_json::to_value(ListedPack {
            summary: SourceSummary::Pack {
                id: "a".into(),
                name: "A".into(),
                version: "1.0.0".into(),
            },
            used: uses[0],
        })
        .unwrap();
        assert_eq!(
            listed,
            serde_json::json!({"id": "a", "name": "A", "version": "1.0.0", "replaced": true, "active": false})
        );
    }
}
