//! What a browser sees: the HTML pages (en, pt-BR) and the sealed forms that carry a step's state.

pub mod brand;
pub mod forms;
pub mod pages;
pub mod qr;

/// The passkey buttons' script (see `pages::with_script`): served as a static file, cacheable.
pub const PASSKEYS_JS: &str = include_str!("passkeys.js");
