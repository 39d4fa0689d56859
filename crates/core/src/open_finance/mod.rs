//! Open Finance Brasil: the consents API (data and payments), the payments API, consent
//! introspection, and the FAPI headers of resource-style responses. The profile's protocol rules
//! are methods of the workspace configuration (`config/profile.rs`).

pub mod consent_introspection;
pub mod consents;
pub mod fapi;
pub mod payments;
