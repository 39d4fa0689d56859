//! One-time codes, both legs side by side: TOTP (RFC 6238: the authenticator app's code, HMAC-SHA-1
//! over 30-second steps, 6 digits, a ±1 step window, no step used twice) and the codes sent by
//! email (6 random digits, stored only as a hash bound to what they are for).
//!
//! Pure functions: the enrolment, the sign-in step and the storage of used steps and sent codes
//! are their callers'.

use crate::crypto;
use crate::runtime::Entropy;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// RFC 6238's time step.
pub const STEP_SECS: i64 = 30;
/// Digits in every code.
pub const DIGITS: u32 = 6;
/// Bytes of a TOTP secret (160 bits, RFC 4226 §4's recommendation).
pub const SECRET_LEN: usize = 20;
/// How long an emailed code lives, and how many wrong guesses it survives.
pub const EMAIL_CODE_TTL: i64 = 300;
pub const EMAIL_CODE_ATTEMPTS: u32 = 5;

/// HOTP (RFC 4226 §5.3): the dynamic truncation of HMAC-SHA-1(secret, counter), 6 digits.
pub fn hotp(secret: &[u8], counter: u64) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[offset] & 0x7f, h[offset + 1], h[offset + 2], h[offset + 3]]);
    format!("{:0width$}", bin % 10u32.pow(DIGITS), width = DIGITS as usize)
}

/// The TOTP step a time falls in.
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(STEP_SECS)
}

/// Checks a TOTP code at `now`, one step either side, and refuses a step at or before
/// `last_used` (a code, or an older one, used again). Returns the step it matched: the caller
/// stores it as the new `last_used` in the same write that accepts the sign-in.
pub fn verify_totp(secret: &[u8], code: &str, now: i64, last_used: Option<i64>) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    // Every candidate is computed (no early exit on a match), so the time taken says nothing.
    let mut matched = None;
    for step in [current - 1, current, current + 1] {
        let ok = step >= 0 && crypto::constant_time_eq(hotp(secret, step as u64).as_bytes(), code.as_bytes());
        if ok && last_used.is_none_or(|l| step > l) && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// A fresh TOTP secret.
pub fn new_secret(e: &impl Entropy) -> Vec<u8> {
    crypto::random_bytes(e, SECRET_LEN)
}

/// RFC 4648 base32 without padding: how authenticator apps take a secret typed in by hand.
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The `otpauth://` URI an authenticator app reads from the QR code (the Key Uri Format).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}", enc(issuer), enc(account), base32(secret), enc(issuer))
}

/// Six random digits, uniform (rejection sampling: no digit is likelier than another).
pub fn email_code(e: &impl Entropy) -> String {
    loop {
        let b = crypto::random_bytes(e, 4);
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        // The largest multiple of 10^6 below 2^32: values at or above it would favour low codes.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// What a sent code is stored as: a hash bound to its purpose and subject, so a code sent for one
/// user or one purpose (sign-in, verification, reset) is nothing for another.
pub fn code_hash(purpose: &str, subject: &str, code: &str) -> String {
    crypto::sha256_b64url(format!("otp|{purpose}|{subject}|{code}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn hotp_and_totp_match_the_rfc_vectors() {
        // RFC 4226 Appendix D.
        let expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        for (i, want) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, i as u64), *want);
        }
        // RFC 6238 Appendix B (SHA-1), the last six of its eight digits.
        for (t, want) in [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924"), (2000000000, "279037"), (20000000000, "353130")] {
            assert_eq!(hotp(RFC_SECRET, step_at(t) as u64), want, "t={t}");
        }
    }

    #[test]
    fn totp_accepts_one_step_either_side_and_no_step_twice() {
        let now = 1_700_000_000;
        let code_at = |t: i64| hotp(RFC_SECRET, step_at(t) as u64);
        let s = step_at(now);
        assert_eq!(verify_totp(RFC_SECRET, &code_at(now), now, None), Some(s));
        assert_eq!(verify_totp(RFC_SECRET, &code_at(now - 30), now, None), Some(s - 1), "the previous step (clock drift)");
        assert_eq!(verify_totp(RFC_SECRET, &code_at(now + 30), now, None), Some(s + 1));
        assert_eq!(verify_totp(RFC_SECRET, &code_at(now - 60), now, None), None, "two steps back is too old");
        assert_eq!(verify_totp(RFC_SECRET, &code_at(now), now, Some(s)), None, "the same step again");
        assert_eq!(verify_totp(RFC_SECRET, &code_at(now - 30), now, Some(s)), None, "an older step after a newer one");
        assert_eq!(verify_totp(RFC_SECRET, &code_at(now + 30), now, Some(s)), Some(s + 1));
        assert_eq!(verify_totp(RFC_SECRET, "12345", now, None), None);
        assert_eq!(verify_totp(RFC_SECRET, "12345a", now, None), None);
    }

    #[test]
    fn base32_and_the_otpauth_uri() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let uri = otpauth_uri("Acme Bank", "ada@example.com", RFC_SECRET);
        assert_eq!(uri, "otpauth://totp/Acme%20Bank:ada%40example%2Ecom?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Bank&algorithm=SHA1&digits=6&period=30");
    }

    #[test]
    fn email_codes_are_six_digits_and_hashes_are_bound() {
        let e = crypto::test_support::TestEntropy::new(7);
        let codes: Vec<String> = (0..50).map(|_| email_code(&e)).collect();
        assert!(codes.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        assert!(codes.windows(2).any(|w| w[0] != w[1]));
        assert_ne!(code_hash("sign_in", "u1", "123456"), code_hash("reset", "u1", "123456"));
        assert_ne!(code_hash("sign_in", "u1", "123456"), code_hash("sign_in", "u2", "123456"));
    }
}
