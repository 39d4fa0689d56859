//! The password check of the workspace's own identity pool (Argon2id).

use crate::crypto;
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::runtime::Runtime;
use crate::store::{self, User};

/// The user with this username and password, or `None` (unknown user, disabled user, no password,
/// wrong password: one answer, and the same hashing work for each, so neither the answer nor its
/// timing tells which usernames exist).
pub async fn verify<R: Runtime>(ctx: &Ctx<'_, R>, username: &str, password: &str) -> Result<Option<User>, OAuthError> {
    let user = if username.is_empty() || username.len() > 256 { None } else { store::get_user_by_username(ctx.db(), &ctx.tenant, &ctx.workspace, username).await? };
    let verified = match &user {
        Some(u) if !u.disabled && u.password_hash.is_some() => crypto::verify_password(password, u.password_hash.as_deref().unwrap_or("")),
        _ => {
            crypto::dummy_verify(&ctx.config.login.password_hashing, password);
            false
        }
    };
    Ok(user.filter(|_| verified))
}

/// The fewest characters any password may have (a workspace may ask for more).
pub const MIN_CHARS: u32 = 8;
/// The most bytes a password may have: Argon2 takes any length, a request body does not.
pub const MAX_BYTES: usize = 1024;

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weak {
    /// Fewer characters than this.
    TooShort(u32),
    TooLong,
    /// It is the account's username or email address (the first thing an attacker tries).
    IsTheName,
}

/// The rules every password set here meets: at least `min_chars` characters (never fewer than
/// [`MIN_CHARS`]), at most [`MAX_BYTES`] bytes, and none of the account's `names`, in any case.
pub fn check_new(password: &str, names: &[&str], min_chars: u32) -> Result<(), Weak> {
    let min = min_chars.max(MIN_CHARS);
    if password.len() > MAX_BYTES {
        return Err(Weak::TooLong);
    }
    if password.chars().count() < min as usize {
        return Err(Weak::TooShort(min));
    }
    if names.iter().any(|n| !n.trim().is_empty() && n.trim().eq_ignore_ascii_case(password.trim())) {
        return Err(Weak::IsTheName);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_are_long_enough_not_too_long_and_not_the_name() {
        assert_eq!(check_new("short", &[], 10), Err(Weak::TooShort(10)));
        assert_eq!(check_new("123456789", &[], 10), Err(Weak::TooShort(10)));
        assert_eq!(check_new("1234567890", &[], 10), Ok(()));
        // characters, not bytes: ten accented letters are ten
        assert_eq!(check_new("ééééééééé", &[], 10), Err(Weak::TooShort(10)));
        assert_eq!(check_new("éééééééééé", &[], 10), Ok(()));
        // a workspace cannot go below the floor
        assert_eq!(check_new("1234567", &[], 4), Err(Weak::TooShort(8)));
        assert_eq!(check_new(&"x".repeat(1025), &[], 10), Err(Weak::TooLong));
        assert_eq!(check_new(&"x".repeat(1024), &[], 10), Ok(()));
        assert_eq!(check_new("Ann@Example.com", &["ann@example.com"], 10), Err(Weak::IsTheName));
        assert_eq!(check_new("ann@example.com!", &["ann@example.com", ""], 10), Ok(()));
    }
}
