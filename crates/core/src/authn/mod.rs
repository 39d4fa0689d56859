//! Authentication: who the user is. The SSO session (its cookie, reading it, starting and ending
//! it) and the credential checks. The steps that ask for credentials are pages of the
//! authorization flow (`oauth::authorize::login`); this room holds what they check and record.

pub mod password;
pub mod session;
