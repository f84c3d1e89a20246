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
//! u64 LE      checksum of the payload (`compiled::digest`)
//! u32 LE      payload length
//! payload     postcard: the key, then the engine's tables
//! ```

use super::*;
use crate::compiled::{seal, unseal};

/// What starts every engine image.
pub const IMAGE_MAGIC: &[u8; 8] = b"FPENGINE";
/// Bumped whenever the engine's tables change shape.
pub const IMAGE_VERSION: u32 = 2;

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
        // The key comes first, so that a stale image is turned down before the rest is read.
        let body = postcard::to_allocvec(&(key, self)).expect("an engine serialises");
        seal(IMAGE_MAGIC, IMAGE_VERSION, &body)
    }

    /// Loads an image made by [`Engine::to_image`] with the same `key`.
    pub fn from_image(bytes: &[u8], key: u64) -> Result<Engine, ImageError> {
        let body = unseal(bytes, IMAGE_MAGIC, IMAGE_VERSION, "engine image")
            .map_err(ImageError::Refused)?;
        let unreadable = |e: postcard::Error| {
            ImageError::Refused(format!("the engine image cannot be read: {e}"))
        };
        let (stored_key, _) = postcard::take_from_bytes::<u64>(body).map_err(unreadable)?;
        if stored_key != key {
            return Err(ImageError::Stale);
        }
        // The phrase automaton is checked as it is read (`PhraseAutomaton::from_parts`).
        let (_, engine) = postcard::from_bytes::<(u64, Engine)>(body).map_err(unreadable)?;
        check_indices(&engine)
            .map_err(|what| ImageError::Refused(format!("engine image: {what}")))?;
        Ok(engine)
    }
}

/// Every index an image holds points inside the table it indexes, and signals refer only to
/// signals built before them (so evaluating one cannot recurse forever).
fn check_indices(i: &Engine) -> Result<(), String> {
    if i.leaf_kind.len() != i.leaf_count
        || i.leaf_in_context.len() != i.leaf_count
        || i.leaf_rule_starts.len() != i.leaf_count + 1
        || i.leaf_rule_starts.last().map(|&n| n as usize) != Some(i.leaf_rules.len())
        || i.leaf_rules.iter().any(|&r| r as usize >= i.rules.len())
        || i.model_leaves.len() != i.models.len()
    {
        return Err("table lengths".to_string());
    }
    if let Some(a) = &i.phrases {
        if a.to_parts().pattern_lens.len() != i.pattern_uses.len() {
            return Err("pattern count".to_string());
        }
    }
    if i.pattern_uses
        .iter()
        .any(|&(from, to)| from > to || to as usize > i.phrase_uses.len())
    {
        return Err("pattern uses".to_string());
    }
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
    i.regexes.iter().try_for_each(|r| leaf(r.leaf, "a regex"))?;
    i.ranges
        .iter()
        .try_for_each(|(l, _)| leaf(*l, "a number range"))?;
    i.model_leaves
        .iter()
        .flatten()
        .try_for_each(|&l| leaf(l, "a model"))?;
    if i.unanchored.iter().any(|&n| n as usize >= i.regexes.len()) {
        return Err("an unanchored regex that is not there".to_string());
    }
    i.regexes.iter().try_for_each(|r| r.program.check())?;
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
        // An engine as read back without the checks, to be damaged and written again.
        let body = |e: &Engine| {
            let image = e.to_image(key);
            postcard::from_bytes::<(u64, Engine)>(&image[24..])
                .unwrap()
                .1
        };
        let reseal = |e: &Engine| e.to_image(key);
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
