//! WebAssembly bindings for the browser extension.
//!
//! The JS↔Wasm boundary is crossed once per batch: posts go in as one string joined with
//! [`POST_SEPARATOR`], verdicts come back as one compact JSON string that lists only the
//! posts with hits (most posts have none). Spans are UTF-16 offsets into each post, as
//! JavaScript strings count.

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use crate::verdict::utf16_unit;
use crate::{
    parse_pack, run_examples, Engine, EngineOptions, PackError, PackErrors, PackFormat, PackInfo,
    Scratch, Verdict,
};

/// Separates posts in a batch. The content script replaces it in post text with a space,
/// which keeps every UTF-16 offset where it was.
pub const POST_SEPARATOR: char = '\u{1e}';

fn error_json(e: &PackError) -> Value {
    json!({
        "origin": e.origin,
        "line": e.line,
        "column": e.column,
        "rule": e.rule,
        "message": e.message,
        "display": e.to_string(),
    })
}

fn errors_json(errors: &PackErrors) -> Value {
    Value::Array(errors.0.iter().map(error_json).collect())
}

fn packs_json(packs: &[PackInfo]) -> Value {
    Value::Array(
        packs
            .iter()
            .map(|p| {
                json!({
                    "id": p.id,
                    "name": p.name,
                    "version": p.version,
                    "description": p.description,
                    "license": p.license,
                    "languages": p.languages,
                    "threshold": p.threshold,
                    "rules": p.rules.iter().map(|r| json!({
                        "id": r.id,
                        "category": r.category,
                        "description": r.description,
                        "severity": r.severity.as_str(),
                        "weight": r.weight,
                        "enabled": r.enabled,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// `[{"name": "x.toml", "source": "…"}]` → parsed packs, or every error in every pack.
fn parse_sources(packs: &str) -> Result<Vec<crate::RulePack>, PackErrors> {
    let list: Vec<Value> = serde_json::from_str(packs)
        .map_err(|e| PackErrors(vec![PackError::new("packs", format!("bad pack list: {e}"))]))?;
    let mut parsed = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    for item in &list {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("pack.toml");
        let Some(source) = item.get("source").and_then(Value::as_str) else {
            errors.push(PackError::new(name, "pack has no source text"));
            continue;
        };
        match parse_pack(source, PackFormat::from_name(name), name) {
            Ok(pack) => parsed.push(pack),
            Err(PackErrors(mut e)) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(PackErrors(errors))
    }
}

/// `{"disabledRules": [["pack", "rule"]], "shadowPacks": ["pack"], "disabledPacks": ["pack"], "threshold": null}`
/// Returns the engine options and the ids of packs to leave out.
fn parse_options(options: &str) -> Result<(EngineOptions, Vec<String>), PackErrors> {
    let bad = |m: String| PackErrors(vec![PackError::new("options", m)]);
    let value: Value = if options.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(options).map_err(|e| bad(format!("bad engine options: {e}")))?
    };
    let mut out = EngineOptions::default();
    if let Some(rules) = value.get("disabledRules").and_then(Value::as_array) {
        for pair in rules {
            match (
                pair.get(0).and_then(Value::as_str),
                pair.get(1).and_then(Value::as_str),
            ) {
                (Some(p), Some(r)) => out.disabled_rules.push((p.to_string(), r.to_string())),
                _ => return Err(bad("disabledRules must be [pack, rule] pairs".into())),
            }
        }
    }
    if let Some(packs) = value.get("shadowPacks").and_then(Value::as_array) {
        for p in packs {
            match p.as_str() {
                Some(p) => out.shadow_packs.push(p.to_string()),
                None => return Err(bad("shadowPacks must be pack ids".into())),
            }
        }
    }
    let mut disabled_packs = Vec::new();
    if let Some(packs) = value.get("disabledPacks").and_then(Value::as_array) {
        for p in packs {
            match p.as_str() {
                Some(p) => disabled_packs.push(p.to_string()),
                None => return Err(bad("disabledPacks must be pack ids".into())),
            }
        }
    }
    match value.get("threshold") {
        None | Some(Value::Null) => {}
        Some(t) => match t.as_f64() {
            Some(t) if t.is_finite() && t > 0.0 => out.threshold = Some(t),
            _ => return Err(bad("threshold must be a positive number".into())),
        },
    }
    Ok((out, disabled_packs))
}

/// Separates a post's context from its text inside a batch.
const CONTEXT_SEPARATOR: char = '\u{1f}';

/// The character that separates a post's context from its text in `scan_batch`: the
/// extension sends contexts only to an engine that reads them.
#[wasm_bindgen]
pub fn context_separator() -> String {
    CONTEXT_SEPARATOR.to_string()
}

/// Appends one verdict as `[index, flagged, score, truncated, [[pack, rule, shadow, [s, e, …]], …]]`.
fn push_compact(
    out: &mut String,
    index: usize,
    text: &str,
    verdict: &Verdict,
    offsets: &mut Vec<usize>,
) {
    use std::fmt::Write;
    verdict.span_offsets(text, utf16_unit, offsets);
    let _ = write!(
        out,
        "[{},{},{},{},[",
        index,
        u8::from(verdict.flagged),
        number(verdict.score),
        u8::from(verdict.truncated)
    );
    let mut k = 0;
    for (h, hit) in verdict.rules.iter().enumerate() {
        if h > 0 {
            out.push(',');
        }
        let _ = write!(out, "[{},{},{},[", hit.pack, hit.rule, u8::from(hit.shadow));
        for s in 0..hit.spans.len() {
            if s > 0 {
                out.push(',');
            }
            let _ = write!(out, "{},{}", offsets[k], offsets[k + 1]);
            k += 2;
        }
        out.push_str("]]");
    }
    out.push_str("]]");
}

fn number(x: f64) -> String {
    if x.is_finite() {
        // Shortest form that round-trips, and valid JSON.
        let s = format!("{x}");
        if s.contains(['e', 'E']) {
            format!("{x:.6}")
        } else {
            s
        }
    } else {
        "0".to_string()
    }
}

/// A compiled engine and the scratch space it reuses across posts.
#[wasm_bindgen]
pub struct WasmEngine {
    engine: Engine,
    scratch: Scratch,
    offsets: Vec<usize>,
}

#[wasm_bindgen]
impl WasmEngine {
    /// Compiles packs (`[{"name", "source"}]`) with options. When two packs share an id the
    /// later one is used (an imported pack replaces the shipped one); packs named in
    /// `disabledPacks` are left out. Each pack is parsed once. On failure throws a JSON string:
    /// an array of `{origin, line, column, rule, message, display}`.
    #[wasm_bindgen(constructor)]
    pub fn new(packs: &str, options: &str) -> Result<WasmEngine, JsValue> {
        let fail = |e: PackErrors| JsValue::from_str(&errors_json(&e).to_string());
        let (options, disabled_packs) = parse_options(options).map_err(fail)?;
        let mut parsed = parse_sources(packs).map_err(fail)?;
        let mut seen = std::collections::HashSet::new();
        let mut keep: Vec<bool> = parsed
            .iter()
            .rev()
            .map(|p| seen.insert(p.id.clone()))
            .collect();
        keep.reverse();
        let mut keep = keep.into_iter();
        parsed.retain(|p| keep.next().unwrap_or(true) && !disabled_packs.contains(&p.id));
        let engine = Engine::compile(&parsed, &options).map_err(fail)?;
        Ok(WasmEngine {
            engine,
            scratch: Scratch::default(),
            offsets: Vec::new(),
        })
    }

    /// The compiled packs and their rules, as JSON.
    pub fn info(&self) -> String {
        packs_json(self.engine.packs()).to_string()
    }

    /// Scans posts joined with U+001E. Returns a JSON array with one compact entry per post
    /// that has any hit (see [`push_compact`]); posts without hits are left out.
    pub fn scan_batch(&mut self, joined: &str) -> String {
        let mut out = String::from("[");
        let mut first = true;
        for (index, post) in joined.split(POST_SEPARATOR).enumerate() {
            // A post with context is written `context U+001F text`; spans refer to the text.
            let (context, text) = match post.split_once(CONTEXT_SEPARATOR) {
                Some((c, t)) => (Some(c), t),
                None => (None, post),
            };
            let verdict = self
                .engine
                .scan_in_context(text, context, &mut self.scratch);
            if verdict.rules.is_empty() {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            push_compact(&mut out, index, text, &verdict, &mut self.offsets);
        }
        out.push(']');
        out
    }

    /// Scans one text and returns the full verdict as JSON, for the rule playground.
    pub fn scan_one(&mut self, text: &str) -> String {
        let verdict = self.engine.scan(text, &mut self.scratch);
        verdict_json(self.engine.packs(), text, &verdict).to_string()
    }
}

fn verdict_json(packs: &[PackInfo], text: &str, verdict: &Verdict) -> Value {
    let mut offsets = Vec::new();
    verdict.span_offsets(text, utf16_unit, &mut offsets);
    let mut k = 0;
    let rules: Vec<Value> = verdict
        .rules
        .iter()
        .map(|hit| {
            let spans: Vec<[usize; 2]> = hit
                .spans
                .iter()
                .map(|_| {
                    let pair = [offsets[k], offsets[k + 1]];
                    k += 2;
                    pair
                })
                .collect();
            let pack = packs.get(hit.pack);
            json!({
                "pack": pack.map(|p| p.id.as_str()),
                "packVersion": pack.map(|p| p.version.as_str()),
                "id": hit.id,
                "category": hit.category,
                "severity": hit.severity.as_str(),
                "weight": hit.weight,
                "shadow": hit.shadow,
                "description": pack.and_then(|p| p.rules.get(hit.rule)).map(|r| r.description.as_str()),
                "spans": spans,
            })
        })
        .collect();
    json!({
        "flagged": verdict.flagged,
        "score": verdict.score,
        "categories": verdict.categories,
        "truncated": verdict.truncated,
        "rules": rules,
    })
}

/// Validates one pack and runs its examples. Returns JSON:
/// `{"ok", "pack": {id, name, version, …} | null, "errors": […], "examples": {"passed", "failures": […]} | null}`.
#[wasm_bindgen]
pub fn check_pack(source: &str, name: &str) -> String {
    let pack = match parse_pack(source, PackFormat::from_name(name), name) {
        Ok(pack) => pack,
        Err(e) => {
            return json!({ "ok": false, "pack": null, "errors": errors_json(&e), "examples": null })
                .to_string()
        }
    };
    // Compiling alone catches what parsing cannot (regex size, limits).
    let info = match Engine::compile(std::slice::from_ref(&pack), &EngineOptions::default()) {
        Ok(engine) => packs_json(engine.packs()).get(0).cloned().unwrap_or(Value::Null),
        Err(e) => {
            return json!({ "ok": false, "pack": null, "errors": errors_json(&e), "examples": null })
                .to_string()
        }
    };
    match run_examples(&pack) {
        Ok(report) => {
            let failures: Vec<Value> = report
                .failures
                .iter()
                .map(|f| {
                    json!({
                        "rule": f.rule,
                        "expectFlag": f.expect_flag,
                        "text": f.text,
                        "message": f.message,
                    })
                })
                .collect();
            json!({
                "ok": failures.is_empty(),
                "pack": info,
                "errors": [],
                "examples": { "passed": report.passed, "failures": failures },
            })
            .to_string()
        }
        Err(e) => json!({ "ok": false, "pack": info, "errors": errors_json(&e), "examples": null })
            .to_string(),
    }
}

/// The packs built into the extension: `[{"name": "recruitment.toml", "source": "…"}]`.
#[wasm_bindgen]
pub fn shipped_packs() -> String {
    Value::Array(
        crate::shipped_packs()
            .into_iter()
            .map(|(name, source)| json!({ "name": name, "source": source }))
            .collect(),
    )
    .to_string()
}

/// The longest post the engine scans, in UTF-8 bytes.
#[wasm_bindgen]
pub fn max_text_bytes() -> usize {
    crate::MAX_TEXT_BYTES
}

/// Parses packs (`[{"name", "source"}]`) without compiling them, and names each:
/// `[{"id", "name", "version"} | {"errors": […]}]`, in input order.
#[wasm_bindgen]
pub fn pack_summaries(packs: &str) -> String {
    let list: Vec<Value> = serde_json::from_str(packs).unwrap_or_default();
    Value::Array(
        list.iter()
            .map(|item| {
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("pack.toml");
                let source = item.get("source").and_then(Value::as_str).unwrap_or("");
                match parse_pack(source, PackFormat::from_name(name), name) {
                    Ok(p) => json!({ "id": p.id, "name": p.name, "version": p.version }),
                    Err(e) => json!({ "errors": errors_json(&e) }),
                }
            })
            .collect(),
    )
    .to_string()
}
