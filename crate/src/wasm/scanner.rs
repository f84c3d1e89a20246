//! The worker's half: compiled packs in, verdicts out.

use js_sys::{Array, Float64Array, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{errors_to_js, from_js, to_js, usage_error};
use crate::compiled;
use crate::wire::{
    build_keeping, engine_key, limits as wire_limits, split_batch, BatchVerdicts, EngineSettings,
    FailedPack, PackSummary, WireVerdict,
};
use crate::{Engine, ImageError, PackErrors, Scratch};

/// Numbers the engine and the extension agree on ([`crate::wire::Limits`]).
#[wasm_bindgen]
pub fn limits() -> JsValue {
    to_js(&wire_limits())
}

/// The digest a compiled pack keeps of the source it came from, as 16 hex digits: a stored
/// compiled form is used only while every source it came from is unchanged.
#[wasm_bindgen]
pub fn source_digest(source: &str) -> String {
    format!("{:016x}", compiled::digest(source.as_bytes()))
}

/// The `performance` of the worker or page, when there is one.
fn performance() -> Option<web_sys::Performance> {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .ok()?
        .dyn_into::<web_sys::Performance>()
        .ok()
}

fn now(p: &Option<web_sys::Performance>) -> f64 {
    p.as_ref().map_or(0.0, |p| p.now())
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Timings {
    decode_ms: f64,
    build_ms: f64,
    /// The engine came from an image rather than being built.
    from_image: bool,
}

/// An engine built from compiled packs, with the buffers it reuses across batches.
#[wasm_bindgen]
pub struct Scanner {
    engine: Engine,
    scratch: Scratch,
    batch: BatchVerdicts,
    failed: Vec<FailedPack>,
    /// What the engine was built from ([`crate::wire::engine_key`]).
    key: u64,
    decode_ms: f64,
    build_ms: f64,
    from_image: bool,
}

#[wasm_bindgen]
impl Scanner {
    /// Builds an engine from compiled packs: `blobs` is an array of `Uint8Array`, each a
    /// compiled pack file (the shipped packs first, then the user's, oldest first); `settings`
    /// an `EngineSettings` object; `image`, when given, an engine image ([`Scanner::image`])
    /// that is loaded instead of building, if it was made from the same blobs and settings
    /// (otherwise it is ignored and the engine is built).
    /// Which packs are used is decided here ([`crate::wire::select_packs`]); a pack that cannot
    /// join the others is left out and listed by [`Scanner::failed`]. Throws an array of errors
    /// (`{kind, origin, line, column, rule, message, display}`) when a blob is refused (other
    /// format version, damaged) or no pack can be used.
    #[wasm_bindgen(constructor)]
    pub fn new(
        blobs: Array,
        settings: JsValue,
        image: Option<Uint8Array>,
    ) -> Result<Scanner, JsValue> {
        let perf = performance();
        if let Some(p) = &perf {
            let _ = p.mark("flagpost-load-start");
        }
        let t0 = now(&perf);
        let settings: EngineSettings = from_js(settings, "engine settings")?;
        let mut bytes_of = Vec::with_capacity(blobs.length() as usize);
        for (i, blob) in blobs.iter().enumerate() {
            let Some(bytes) = blob.dyn_ref::<Uint8Array>() else {
                return Err(usage_error(
                    "packs",
                    format!("compiled packs {i} are not a Uint8Array"),
                ));
            };
            bytes_of.push(bytes.to_vec());
        }
        let key = engine_key(
            &bytes_of.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            &settings,
        );
        let loaded = image.and_then(|image| match Engine::from_image(&image.to_vec(), key) {
            Ok(engine) => Some(engine),
            Err(ImageError::Stale) => None,
            Err(e) => {
                web_sys::console::warn_1(&JsValue::from_str(&format!(
                    "flagpost: engine image not used: {e}"
                )));
                None
            }
        });
        let from_image = loaded.is_some();
        let (engine, failed, t1) = match loaded {
            Some(engine) => (engine, Vec::new(), now(&perf)),
            None => {
                let mut packs = Vec::new();
                for (i, bytes) in bytes_of.iter().enumerate() {
                    let origin = format!("compiled packs {i}");
                    match compiled::decode(bytes, &origin) {
                        Ok(list) => packs.extend(list.into_iter().map(|c| c.pack)),
                        Err(e) => {
                            web_sys::console::warn_1(&JsValue::from_str(&format!("flagpost: {e}")));
                            return Err(errors_to_js(&PackErrors(vec![e])));
                        }
                    }
                }
                let t1 = now(&perf);
                let (engine, failed) =
                    build_keeping(packs, &settings).map_err(|e| errors_to_js(&e))?;
                (engine, failed, t1)
            }
        };
        let t2 = now(&perf);
        if let Some(p) = &perf {
            let _ = p.mark("flagpost-load-end");
            let _ = p.measure_with_start_mark_and_end_mark(
                "flagpost-load",
                "flagpost-load-start",
                "flagpost-load-end",
            );
        }
        for f in &failed {
            for e in &f.errors {
                web_sys::console::warn_1(&JsValue::from_str(&format!(
                    "flagpost: pack left out: {}",
                    e.display
                )));
            }
        }
        Ok(Scanner {
            engine,
            scratch: Scratch::default(),
            batch: BatchVerdicts::default(),
            failed,
            key,
            decode_ms: t1 - t0,
            build_ms: t2 - t1,
            from_image,
        })
    }

    /// The engine as an image to store and pass to the next [`Scanner::new`] with the same
    /// packs and settings; `undefined` when a pack was left out (its errors are only known by
    /// building).
    pub fn image(&self) -> Option<Uint8Array> {
        self.failed
            .is_empty()
            .then(|| Uint8Array::from(self.engine.to_image(self.key).as_slice()))
    }

    /// The packs in use and their rules: `PackSummary[]`.
    pub fn packs(&self) -> JsValue {
        let list: Vec<PackSummary> = self.engine.packs().iter().map(PackSummary::from).collect();
        to_js(&list)
    }

    /// Packs left out because they could not join the others: `FailedPack[]`.
    pub fn failed(&self) -> JsValue {
        to_js(&self.failed)
    }

    /// Milliseconds spent reading the compiled packs and building the engine (or loading its
    /// image), and whether an image was used.
    pub fn timings(&self) -> JsValue {
        to_js(&Timings {
            decode_ms: self.decode_ms,
            build_ms: self.build_ms,
            from_image: self.from_image,
        })
    }

    /// Scans posts joined with U+001E (a post with context is `context U+001F text`). Returns
    /// how many posts had a rule fire; their verdicts are then read with [`Scanner::posts`],
    /// [`Scanner::scores`], [`Scanner::hits`] and [`Scanner::spans`] (layout in
    /// [`crate::wire::BatchVerdicts`]; spans in UTF-16 offsets into each post's text).
    pub fn scan_batch(&mut self, joined: &str) -> usize {
        self.batch.clear();
        for (index, (context, text)) in split_batch(joined).enumerate() {
            let verdict = self
                .engine
                .scan_in_context(text, context, &mut self.scratch);
            self.batch.push(index, text, &verdict);
        }
        self.batch.scores.len()
    }

    pub fn posts(&self) -> Uint32Array {
        Uint32Array::from(&self.batch.posts[..])
    }

    pub fn scores(&self) -> Float64Array {
        Float64Array::from(&self.batch.scores[..])
    }

    pub fn hits(&self) -> Uint32Array {
        Uint32Array::from(&self.batch.hits[..])
    }

    pub fn spans(&self) -> Uint32Array {
        Uint32Array::from(&self.batch.spans[..])
    }

    /// One text (and optional context) with its whole verdict, for people: `WireVerdict`.
    pub fn scan_one(&mut self, text: &str, context: Option<String>) -> JsValue {
        let context = context.unwrap_or_default();
        let ctx = (!context.is_empty()).then_some(context.as_str());
        let verdict = self.engine.scan_in_context(text, ctx, &mut self.scratch);
        to_js(&WireVerdict::new(
            self.engine.packs(),
            text,
            &context,
            &verdict,
        ))
    }
}
