//! Compiled packs: validated packs stored in a compact binary form, so that a process that
//! only scans (the extension's worker) loads them without parsing or validating anything.
//!
//! The form is a cache, never the only copy of a pack: whoever stores it keeps the source and
//! rebuilds from it when loading is refused. Loading is refused, with a message that says
//! why, when the bytes are not a compiled pack, come from another format version, or fail
//! their checksum.
//!
//! ```text
//! "FLAGPOST"  magic, 8 bytes
//! u32 LE      format version
//! u64 LE      checksum of the payload ([`digest`])
//! u32 LE      payload length
//! payload     postcard: the packs, each with a digest of the source it came from
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, PackError};
use crate::pack::{Examples, RulePack};

/// What starts every compiled pack file.
pub const MAGIC: &[u8; 8] = b"FLAGPOST";
/// Bumped whenever the layout of [`RulePack`] or of this header changes.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Payload {
    packs: Vec<CompiledPack>,
}

/// One validated pack and the digest of the source it was compiled from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompiledPack {
    pub pack: RulePack,
    pub source_digest: u64,
}

/// A 64-bit checksum against damage, not against tampering. It reads eight bytes a step (a
/// worker that has just started runs the Wasm module's baseline code, where a byte-at-a-time
/// hash over an engine image took milliseconds), mixing each word in with a multiply and a
/// shift, and the length, so that a file cut short differs.
pub fn digest(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, w: u64| {
        let h = (h ^ w).wrapping_mul(K);
        h ^ (h >> 29)
    };
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        h = mix(h, u64::from_le_bytes(w.try_into().expect("8 bytes")));
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    mix(mix(h, u64::from_le_bytes(tail)), K)
}

/// Does this look like a compiled pack file (rather than TOML or JSON)?
pub fn is_compiled(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Stores validated packs with the sources they came from. Examples and warnings are left out:
/// scanning needs neither, and the source keeps both.
pub fn encode(packs: &[(RulePack, &str)]) -> Vec<u8> {
    let payload = Payload {
        packs: packs
            .iter()
            .map(|(pack, source)| CompiledPack {
                pack: RulePack {
                    examples: Examples::default(),
                    warnings: Vec::new(),
                    rules: pack
                        .rules
                        .iter()
                        .map(|r| crate::pack::Rule {
                            examples: Examples::default(),
                            ..r.clone()
                        })
                        .collect(),
                    ..pack.clone()
                },
                source_digest: digest(source.as_bytes()),
            })
            .collect(),
    };
    let body = postcard::to_allocvec(&payload).expect("packs serialise");
    seal(MAGIC, FORMAT_VERSION, &body)
}

/// Frames a payload: magic, version, checksum, length (the layout above).
pub(crate) fn seal(magic: &[u8; 8], version: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 24);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&digest(body).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The payload of a framed file, or why it is refused; `what` names the contents in messages
/// ("compiled packs").
pub(crate) fn unseal<'b>(
    bytes: &'b [u8],
    magic: &[u8; 8],
    version_wanted: u32,
    what: &str,
) -> Result<&'b [u8], String> {
    if !bytes.starts_with(magic) {
        return Err(format!("not {what}"));
    }
    if bytes.len() < 24 {
        return Err(format!("the {what} are cut short"));
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let version = word(8);
    if version != version_wanted {
        return Err(format!(
            "the {what} are of format version {version}; this engine reads version \
             {version_wanted}; compile them again from their sources"
        ));
    }
    let checksum = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let len = word(20) as usize;
    let Some(body) = bytes.get(24..24 + len) else {
        return Err(format!("the {what} are cut short"));
    };
    if digest(body) != checksum {
        return Err(format!(
            "the {what} fail their checksum (damaged); compile them again from their sources"
        ));
    }
    Ok(body)
}

/// Loads compiled packs; `origin` names the file or store in errors.
pub fn decode(bytes: &[u8], origin: &str) -> Result<Vec<CompiledPack>, PackError> {
    let refuse = |message: String| Err(PackError::new(origin, message).kind(ErrorKind::Compiled));
    if !is_compiled(bytes) {
        return refuse("not a compiled pack file".to_string());
    }
    let body = match unseal(bytes, MAGIC, FORMAT_VERSION, "compiled packs") {
        Ok(body) => body,
        Err(e) => return refuse(e),
    };
    match postcard::from_bytes::<Payload>(body) {
        Ok(p) => Ok(p.packs),
        Err(e) => refuse(format!("the compiled packs cannot be read: {e}")),
    }
}

#[cfg(all(test, feature = "authoring"))]
mod tests {
    use super::*;
    use crate::{parse_pack, Engine, EngineOptions, PackFormat};

    const PACK: &str = r#"
id = "t"
name = "T"
version = "1.0.0"
license = "CC0-1.0"
threshold = 1.0
[signals]
go = { phrases = ["приезжай*", "^join"] }
[[rules]]
id = "r"
category = "c"
severity = "high"
weight = 1.0
description = "d"
condition = { all = [{ signal = "go" }, { regex = 'донецк\w*' }, { none = [{ phrases = ["news"] }] }] }
examples.flag = ["Приезжайте в Донецк"]
examples.pass = ["news: приезжайте в Донецк"]
"#;

    #[test]
    fn round_trips_and_scans_the_same() {
        let pack = parse_pack(PACK, PackFormat::Toml, "t.toml").unwrap();
        let bytes = encode(&[(pack.clone(), PACK)]);
        let loaded = decode(&bytes, "t.fpk").unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].source_digest, digest(PACK.as_bytes()));
        assert_eq!(loaded[0].pack.rules[0].condition, pack.rules[0].condition);
        assert!(loaded[0].pack.rules[0].examples.is_empty());
        let a = Engine::compile(&[pack], &EngineOptions::default()).unwrap();
        let b = Engine::compile(&[loaded[0].pack.clone()], &EngineOptions::default()).unwrap();
        for text in [
            "Приезжайте в Донецк!",
            "news: приезжайте в Донецк",
            "nothing",
        ] {
            assert_eq!(a.scan_one(text), b.scan_one(text), "{text}");
        }
    }

    #[test]
    fn refuses_damage_and_other_versions_with_a_reason() {
        let pack = parse_pack(PACK, PackFormat::Toml, "t.toml").unwrap();
        let bytes = encode(&[(pack, PACK)]);
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(decode(&damaged, "x")
            .unwrap_err()
            .message
            .contains("checksum"));
        let mut other = bytes.clone();
        other[8] = 99;
        let e = decode(&other, "x").unwrap_err();
        assert!(e.message.contains("format version 99"), "{e}");
        assert_eq!(e.kind, ErrorKind::Compiled);
        assert!(decode(&bytes[..30], "x")
            .unwrap_err()
            .message
            .contains("cut short"));
        assert!(decode(b"id = 1", "x")
            .unwrap_err()
            .message
            .contains("not a compiled"));
    }
}
