//! Onramp's fuzz targets: each parser of untrusted input, with the properties it must keep,
//! written as plain functions of the input bytes that panic when a property breaks.
//!
//! The same bodies run two ways: `tests/replay.rs` (in `make test`) replays each target's seed
//! corpus (`corpus/TARGET`) and a fixed count of inputs mutated from it; `make fuzz` builds them
//! under libFuzzer (`fuzz_targets/`, feature `libfuzzer`) for the long coverage-guided run.

mod callback;
mod config;
mod espi;
pub mod espi_writer;
mod mutate;
mod solis;
mod vendors;

pub use callback::callback;
pub use config::config;
pub use espi::espi;
pub use mutate::Mutator;
pub use solis::solis_sign;
pub use vendors::{backup_payload, sites, tokens};

/// A target's body: panics when the input breaks a property.
pub type Target = fn(&[u8]);

/// Every target by name (the name of its corpus folder and of its libFuzzer binary).
pub const TARGETS: &[(&str, Target)] = &[
    ("callback", callback),
    ("espi", espi),
    ("tokens", tokens),
    ("sites", sites),
    ("solis_sign", solis_sign),
    ("config", config),
    ("backup_payload", backup_payload),
];

/// The input as text, or `None` when it is not UTF-8 (the text parsers take `&str`).
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Whether `hay` holds `needle` anywhere (for secrets that must not show).
fn shows(hay: &str, needle: &str) -> bool {
    !needle.is_empty() && hay.contains(needle)
}
