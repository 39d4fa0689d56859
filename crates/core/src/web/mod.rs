//! What a browser sees: the HTML pages (en, pt-BR) and the sealed forms that carry a step's state.

pub mod forms;
pub mod pages;
pub mod qr;
