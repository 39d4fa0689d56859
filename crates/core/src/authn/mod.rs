//! Authentication: who the user is. The SSO session (its cookie, reading it, starting and ending
//! it), the credential checks, and the limits on guessing them (`throttle`). The steps that ask for credentials are pages of the
//! authorization flow (`oauth::authorize::login`); this room holds what they check and record.

pub mod context;
pub mod otp;
pub mod password;
pub mod session;
pub mod throttle;
