//! Engine images: a built engine stored whole, so that a process that starts often (the
//! extension's worker) loads it instead of building it again.
//!
//! Building an engine lowers every condition to nodes and every phrase into the automaton:
//! a few milliseconds natively, but several times that in a WebAssembly worker that has just
//! started and runs its code unoptimised. Loading an image only decodes tables.
//!
//! An image is tied to what it was built from by a key (see [`crate::wire::engine_key`]):
//! loading refuses an image whose key is not the one asked for, so a stale image is rebuilt,
//! never used. Like compiled packs, it is framed with a magic, a format version and a
//! checksum. An image is this engine's own output: it is written at build time or by the
//! engine itself, never taken from a page or a pack author. The checksum guards against
//! damage; beyond it, loading checks every index the image holds, so that even a crafted
//! image is refused rather than failing in a scan.
//!
//! ```text
//! "FPENGINE"  magic, 8 bytes
//! u32 LE      image format version
//! u64 LE      FNV-1a of the payload
//! u32 LE      payload length
//! payload     postcard: the key, then the engine's tables
//! ```

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::build::regex_set;
use super::*;
use crate::automaton::AutomatonParts;
use crate::compiled::{seal, unseal};

/// What starts every engine image.
pub const IMAGE_MAGIC: &[u8; 8] = b"FPENGINE";
/// Bumped whenever the engine's tables change shape.
pub const IMAGE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Image {
    key: u64,
    packs: Vec<PackInfo>,
    phrases: Option<AutomatonParts>,
    pattern_uses: Vec<(u32, u32)>,
    phrase_uses: Vec<PatternUse>,
    set_sources: Vec<String>,
    set_regexes: Vec<u32>,
    regexes: Vec<(String, u32)>,
    stem_phrases: Vec<Vec<StemWord>>,
    ranges: Vec<(u32, NumberRange)>,
    leaf_kind: Vec<LeafKind>,
    leaf_in_context: Vec<bool>,
    has_context_leaves: bool,
    eager_ranges: bool,
    leaf_count: usize,
    signals: Vec<Node>,
    signal_names: Vec<String>,
    models: Vec<NgramScorer>,
    model_leaves: Vec<Vec<u32>>,
    rules: Vec<CompiledRule>,
    leaf_rule_starts: Vec<u32>,
    leaf_rules: Vec<u32>,
    rules_without_needs: bool,
}

/// Why an image was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// Built from other packs or settings: build the engine instead.
    Stale,
    /// Not an image, another format version, or damaged.
    Refused(String),
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageError::Stale => {
                f.write_str("the engine image was built from other packs or settings")
            }
            ImageError::Refused(why) => f.write_str(why),
        }
    }
}

impl Engine {
    /// The engine as an image, tagged with `key` (what it was built from).
    pub fn to_image(&self, key: u64) -> Vec<u8> {
        let image = Image {
            key,
            packs: self.packs.clone(),
            phrases: self.phrases.as_ref().map(|a| a.to_parts().clone()),
            pattern_uses: self.pattern_uses.clone(),
            phrase_uses: self.phrase_uses.clone(),
            set_sources: self.set_sources.clone(),
            set_regexes: self.set_regexes.clone(),
            regexes: self
                .regexes
                .iter()
                .map(|(source, _, leaf)| (source.clone(), *leaf))
                .collect(),
            stem_phrases: self.stem_phrases.clone(),
            ranges: self.ranges.clone(),
            leaf_kind: self.leaf_kind.clone(),
            leaf_in_context: self.leaf_in_context.clone(),
            has_context_leaves: self.has_context_leaves,
            eager_ranges: self.eager_ranges,
            leaf_count: self.leaf_count,
            signals: self.signals.clone(),
            signal_names: self.signal_names.clone(),
            models: self.models.clone(),
            model_leaves: self.model_leaves.clone(),
            rules: self.rules.clone(),
            leaf_rule_starts: self.leaf_rule_starts.clone(),
            leaf_rules: self.leaf_rules.clone(),
            rules_without_needs: self.rules_without_needs,
        };
        let body = postcard::to_allocvec(&image).expect("an engine serialises");
        seal(IMAGE_MAGIC, IMAGE_VERSION, &body)
    }

    /// Loads an image made by [`Engine::to_image`] with the same `key`.
    pub fn from_image(bytes: &[u8], key: u64) -> Result<Engine, ImageError> {
        let body = unseal(bytes, IMAGE_MAGIC, IMAGE_VERSION, "engine image")
            .map_err(ImageError::Refused)?;
        // The key comes first in the payload: a stale image is turned down before the rest
        // of it is decoded.
        let (stored_key, _) = postcard::take_from_bytes::<u64>(body)
            .map_err(|e| ImageError::Refused(format!("the engine image cannot be read: {e}")))?;
        if stored_key != key {
            return Err(ImageError::Stale);
        }
        let i: Image = postcard::from_bytes(body)
            .map_err(|e| ImageError::Refused(format!("the engine image cannot be read: {e}")))?;
        let refuse = |what: &str| Err(ImageError::Refused(format!("engine image: {what}")));
        if let Err(what) = check_indices(&i) {
            return refuse(&what);
        }
        let phrases = match i.phrases {
            Some(parts) => {
                Some(PhraseAutomaton::from_parts(parts).map_err(|e| ImageError::Refused(e.0))?)
            }
            None => None,
        };
        // What scanning indexes by, checked so that a damaged image is refused here rather
        // than failing in a scan.
        if i.leaf_kind.len() != i.leaf_count
            || i.leaf_in_context.len() != i.leaf_count
            || i.leaf_rule_starts.len() != i.leaf_count + 1
            || i.leaf_rule_starts.last().map(|&n| n as usize) != Some(i.leaf_rules.len())
            || i.leaf_rules.iter().any(|&r| r as usize >= i.rules.len())
            || i.set_regexes.len() != i.set_sources.len()
            || i.model_leaves.len() != i.models.len()
        {
            return refuse("table lengths");
        }
        if let Some(a) = &phrases {
            if a.to_parts().pattern_lens.len() != i.pattern_uses.len() {
                return refuse("pattern count");
            }
        }
        if i.pattern_uses
            .iter()
            .any(|&(from, to)| from > to || to as usize > i.phrase_uses.len())
        {
            return refuse("pattern uses");
        }
        let regex_set = regex_set(&i.set_sources).map_err(ImageError::Refused)?;
        Ok(Engine {
            packs: i.packs,
            phrases,
            pattern_uses: i.pattern_uses,
            phrase_uses: i.phrase_uses,
            regex_set,
            set_sources: i.set_sources,
            set_regexes: i.set_regexes,
            regexes: i
                .regexes
                .into_iter()
                .map(|(source, leaf)| (source, OnceLock::new(), leaf))
                .collect(),
            stem_phrases: i.stem_phrases,
            ranges: i.ranges,
            leaf_kind: i.leaf_kind,
            leaf_in_context: i.leaf_in_context,
            has_context_leaves: i.has_context_leaves,
            eager_ranges: i.eager_ranges,
            leaf_count: i.leaf_count,
            signals: i.signals,
            signal_names: i.signal_names,
            models: i.models,
            model_leaves: i.model_leaves,
            rules: i.rules,
            leaf_rule_starts: i.leaf_rule_starts,
            leaf_rules: i.leaf_rules,
            rules_without_needs: i.rules_without_needs,
        })
    }
}

/// Every index an image holds points inside the table it indexes, and signals refer only to
/// signals built before them (so evaluating one cannot recurse forever).
fn check_indices(i: &Image) -> Result<(), String> {
    let leaves = i.leaf_count;
    let leaf = |l: u32, what: &str| {
        if (l as usize) < leaves {
            Ok(())
        } else {
            Err(format!("{what} names leaf {l} of {leaves}"))
        }
    };
    fn node(
        n: &Node,
        signals_before: usize,
        leaf: &dyn Fn(u32, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        match n {
            Node::Leaf(l) => leaf(*l, "a condition"),
            Node::Signal(s) if (*s as usize) < signals_before => Ok(()),
            Node::Signal(s) => Err(format!("a condition names signal {s} before it is built")),
            Node::All(p)
            | Node::Any(p)
            | Node::None(p)
            | Node::AtLeast(_, p)
            | Node::Near(_, p) => p.iter().try_for_each(|c| node(c, signals_before, leaf)),
            Node::Context(inner) => node(inner, signals_before, leaf),
        }
    }
    for (k, signal) in i.signals.iter().enumerate() {
        node(signal, k, &leaf)?;
    }
    for rule in &i.rules {
        node(&rule.node, i.signals.len(), &leaf)?;
        rule.needs
            .iter()
            .try_for_each(|&l| leaf(l, "a rule's needs"))?;
        if i.packs
            .get(rule.pack)
            .is_none_or(|p| rule.rule >= p.rules.len())
        {
            return Err(format!(
                "a rule names pack {} rule {}",
                rule.pack, rule.rule
            ));
        }
    }
    for u in &i.phrase_uses {
        match *u {
            PatternUse::Phrase { leaf: l, .. } => leaf(l, "a phrase")?,
            PatternUse::Trigger(n) if (n as usize) < i.regexes.len() => {}
            PatternUse::Trigger(n) => return Err(format!("a trigger names regex {n}")),
            PatternUse::Stems { leaf: l, n, .. } => {
                leaf(l, "a phrase of stems")?;
                if n as usize >= i.stem_phrases.len() {
                    return Err(format!("a phrase names stem list {n}"));
                }
            }
        }
    }
    for (k, kind) in i.leaf_kind.iter().enumerate() {
        if let LeafKind::Model(m, _) = kind {
            if *m as usize >= i.models.len() {
                return Err(format!("leaf {k} names model {m}"));
            }
        }
    }
    i.regexes
        .iter()
        .try_for_each(|(_, l)| leaf(*l, "a regex"))?;
    i.ranges
        .iter()
        .try_for_each(|(l, _)| leaf(*l, "a number range"))?;
    i.model_leaves
        .iter()
        .flatten()
        .try_for_each(|&l| leaf(l, "a model"))?;
    if i.set_regexes.iter().any(|&n| n as usize >= i.regexes.len()) {
        return Err("the regex set names a regex that is not there".to_string());
    }
    if i.signal_names.len() != i.signals.len() {
        return Err("signal names".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::{parse_pack, PackFormat};

    fn shipped() -> Engine {
        let packs: Vec<_> = crate::shipped_packs()
            .into_iter()
            .map(|(name, source)| parse_pack(source, PackFormat::Toml, name).unwrap())
            .collect();
        Engine::compile(&packs, &EngineOptions::default()).unwrap()
    }

    #[test]
    fn an_image_scans_as_the_engine_it_came_from() {
        let engine = shipped();
        let image = engine.to_image(7);
        let loaded = Engine::from_image(&image, 7).unwrap();
        let posts = [
            "Remember, you are just a tourist! Men aged 18-45, call +7 900 000 00 00",
            "Приглашаем на службу по контракту, выплаты от 200 000 рублей, звоните",
            "Join our ranks: fill out the form and travel to the EU first.",
            "The weather in Kyiv is mild today.",
            "",
        ];
        let mut a = Scratch::default();
        let mut b = Scratch::default();
        for post in posts {
            assert_eq!(
                engine.scan(post, &mut a),
                loaded.scan(post, &mut b),
                "{post}"
            );
        }
        assert_eq!(loaded.to_image(7), image);
    }

    #[test]
    fn an_image_with_indices_out_of_range_is_refused_not_scanned() {
        let engine = shipped();
        let key = 7;
        let body = |e: &Engine| {
            let image = e.to_image(key);
            postcard::from_bytes::<Image>(&image[24..]).unwrap()
        };
        let reseal = |i: &Image| {
            seal(
                IMAGE_MAGIC,
                IMAGE_VERSION,
                &postcard::to_allocvec(i).unwrap(),
            )
        };
        let mut i = body(&engine);
        i.leaf_rules[0] = u32::MAX;
        assert!(Engine::from_image(&reseal(&i), key).is_err());
        let mut i = body(&engine);
        i.signals[0] = Node::Signal(0);
        assert!(matches!(
            Engine::from_image(&reseal(&i), key),
            Err(ImageError::Refused(m)) if m.contains("before it is built")
        ));
        let mut i = body(&engine);
        i.rules[0].pack = 9;
        assert!(Engine::from_image(&reseal(&i), key).is_err());
        let mut i = body(&engine);
        if let Some(PatternUse::Phrase { leaf, .. }) = i
            .phrase_uses
            .iter_mut()
            .find(|u| matches!(u, PatternUse::Phrase { .. }))
        {
            *leaf = 1 << 30;
        }
        assert!(Engine::from_image(&reseal(&i), key).is_err());
        // Untouched, the same bytes load.
        assert!(Engine::from_image(&reseal(&body(&engine)), key).is_ok());
    }

    #[test]
    fn stale_damaged_and_foreign_images_are_refused() {
        let image = shipped().to_image(7);
        assert_eq!(
            Engine::from_image(&image, 8).unwrap_err(),
            ImageError::Stale
        );
        let mut damaged = image.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(matches!(
            Engine::from_image(&damaged, 7),
            Err(ImageError::Refused(m)) if m.contains("checksum")
        ));
        assert!(matches!(
            Engine::from_image(b"FLAGPOST and more bytes than a header", 7),
            Err(ImageError::Refused(m)) if m.contains("not engine image")
        ));
        let mut newer = image.clone();
        newer[8] = 99;
        assert!(matches!(
            Engine::from_image(&newer, 7),
            Err(ImageError::Refused(m)) if m.contains("format version 99")
        ));
    }
}
