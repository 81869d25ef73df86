//! Onramp's core: everything it knows, with no Tauri in it. The shell and the CLI call
//! [`service::Onramp`] only.

pub mod address;
pub mod auth;
pub mod bindings;
pub mod clock;
pub mod config;
pub mod customers_csv;
pub mod error;
pub mod lifecycle;
pub mod model;
pub mod private;
pub mod providers;
pub mod seal;
#[cfg(target_os = "linux")]
mod secret_service;
pub mod sensitive;
pub mod service;
pub mod store;
pub mod text;
pub mod usage;
pub mod vault;

pub use error::{Code, Error, Result};
pub use service::{Onramp, OpenOptions};
