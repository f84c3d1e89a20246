//! WebAssembly bindings: the only module that knows about JavaScript.
//!
//! Two builds come from this crate. The **scanner** (`--no-default-features`) is what the
//! extension's worker loads: it takes packs compiled ahead ([`crate::compiled`]), builds an
//! engine and scans batches, nothing else. The **authoring** build (default features) adds
//! parsing, validating, running examples and compiling, for the options page, the playground
//! and the rare rebuild of a user's packs from their sources.
//!
//! What crosses: structured values (settings, pack summaries, errors with file:line:column)
//! through `serde-wasm-bindgen`, in the shapes of [`crate::wire`]; verdicts of a batch as four
//! typed arrays with no per-post objects ([`crate::wire::BatchVerdicts`]).

mod scanner;

#[cfg(feature = "authoring")]
mod authoring;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::wire::{wire_errors, WireError};
use crate::PackErrors;

/// Plain objects and arrays, `null` for `None`: what the extension's code expects.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or_else(|e| JsValue::from_str(&format!("cannot pass a value to JavaScript: {e}")))
}

/// A thrown error: an array of [`WireError`].
pub(crate) fn errors_to_js(e: &PackErrors) -> JsValue {
    to_js(&wire_errors(e))
}

/// One error without a place in any pack (a bad argument).
pub(crate) fn usage_error(origin: &str, message: String) -> JsValue {
    to_js(&[WireError::from(&crate::PackError::new(origin, message))])
}

/// Reads a structured argument (missing means the default), naming it when it does not have
/// the expected shape.
pub(crate) fn from_js<T: serde::de::DeserializeOwned + Default>(
    value: JsValue,
    what: &str,
) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| usage_error(what, format!("bad {what}: {e}")))
}
