//! The options page's half: pack sources in, checks and compiled packs out.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::{from_js, to_js};
use crate::compiled;
use crate::wire::{
    pack_use, wire_errors, CheckReport, EngineSettings, FailedPack, ListedPack, PackSource,
    PackSummary, SourceSummary, WireExamples,
};
use crate::{parse_pack, run_examples, Engine, EngineOptions, PackErrors, PackFormat};

/// The packs built into the extension, as sources: `PackSource[]`.
#[wasm_bindgen]
pub fn shipped_sources() -> JsValue {
    let list: Vec<PackSource> = crate::shipped_packs()
        .into_iter()
        .map(|(name, source)| PackSource {
            name: name.to_string(),
            source: source.to_string(),
        })
        .collect();
    to_js(&list)
}

/// Validates one pack, compiles it alone (which catches what parsing cannot: regex sizes,
/// limits) and runs its examples: `CheckReport`.
#[wasm_bindgen]
pub fn check_pack(source: &str, name: &str) -> JsValue {
    let fail = |e: &PackErrors, pack: Option<PackSummary>| CheckReport {
        ok: false,
        pack,
        errors: wire_errors(e),
        examples: None,
    };
    let report = match parse_pack(source, PackFormat::from_name(name), name) {
        Err(e) => fail(&e, None),
        Ok(pack) => match Engine::compile(std::slice::from_ref(&pack), &EngineOptions::default()) {
            Err(e) => fail(&e, None),
            Ok(engine) => {
                let summary = engine.packs().first().map(PackSummary::from);
                match run_examples(&pack) {
                    Err(e) => fail(&e, summary),
                    Ok(r) => CheckReport {
                        ok: r.failures.is_empty(),
                        pack: summary,
                        errors: Vec::new(),
                        examples: Some(WireExamples::from(&r)),
                    },
                }
            }
        },
    };
    to_js(&report)
}

/// Parses sources without compiling them and names each: `SourceSummary[]`, in input order.
#[wasm_bindgen]
pub fn pack_summaries(sources: JsValue) -> Result<JsValue, JsValue> {
    let sources: Vec<PackSource> = from_js(sources, "pack sources")?;
    let list: Vec<SourceSummary> = sources.iter().map(summary_of).collect();
    Ok(to_js(&list))
}

/// Every pack source in load order with what it declares and whether it is used under
/// `settings` (`EngineSettings`): `ListedPack[]`. The same decision as the scanner's.
#[wasm_bindgen]
pub fn list_packs(sources: JsValue, settings: JsValue) -> Result<JsValue, JsValue> {
    let sources: Vec<PackSource> = from_js(sources, "pack sources")?;
    let settings: EngineSettings = from_js(settings, "engine settings")?;
    let summaries: Vec<SourceSummary> = sources.iter().map(summary_of).collect();
    let ids: Vec<Option<&str>> = summaries
        .iter()
        .map(|s| match s {
            SourceSummary::Pack { id, .. } => Some(id.as_str()),
            SourceSummary::Errors { .. } => None,
        })
        .collect();
    let uses = pack_use(&ids, &settings);
    let list: Vec<ListedPack> = summaries
        .iter()
        .zip(uses)
        .map(|(summary, used)| ListedPack {
            summary: summary.clone(),
            used,
        })
        .collect();
    Ok(to_js(&list))
}

fn summary_of(s: &PackSource) -> SourceSummary {
    match parse_pack(&s.source, PackFormat::from_name(&s.name), &s.name) {
        Ok(p) => SourceSummary::Pack {
            id: p.id,
            name: p.name,
            version: p.version,
        },
        Err(e) => SourceSummary::Errors {
            errors: wire_errors(&e),
        },
    }
}

/// Compiles sources for the scanner: `{bytes: Uint8Array, failed: FailedPack[]}`. Every pack
/// that parses, validates and compiles alone goes into `bytes` (whether it is switched on is
/// decided when a scanner loads them); the others are listed in `failed` with their errors.
#[wasm_bindgen]
pub fn compile_sources(sources: JsValue) -> Result<JsValue, JsValue> {
    let sources: Vec<PackSource> = from_js(sources, "pack sources")?;
    let mut good = Vec::new();
    let mut failed = Vec::new();
    for s in &sources {
        let fail = |e: &PackErrors, id: Option<String>, version: Option<String>| FailedPack {
            origin: s.name.clone(),
            id,
            version,
            errors: wire_errors(e),
        };
        match parse_pack(&s.source, PackFormat::from_name(&s.name), &s.name) {
            Err(e) => failed.push(fail(&e, None, None)),
            Ok(pack) => {
                match Engine::compile(std::slice::from_ref(&pack), &EngineOptions::default()) {
                    Err(e) => {
                        failed.push(fail(&e, Some(pack.id.clone()), Some(pack.version.clone())))
                    }
                    Ok(_) => good.push((pack, s.source.as_str())),
                }
            }
        }
    }
    let bytes = compiled::encode(&good);
    let out = Object::new();
    Reflect::set(&out, &"bytes".into(), &Uint8Array::from(&bytes[..]))?;
    Reflect::set(&out, &"failed".into(), &to_js(&failed))?;
    Ok(out.into())
}
