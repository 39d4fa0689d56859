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
