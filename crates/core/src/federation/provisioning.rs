//! Just-in-time provisioning (2.17's headline): who a provider's user is in this workspace's
//! identity pool. Tried in order: the link (provider, the provider's `sub`), then the provider's
//! `match_by` attributes (an email only when the provider verified it); an ambiguous match is
//! refused, never guessed. Then, by the provider's mode: no local user at all (`off`), a user made
//! now (`auto`), or made pending until an administrator activates it (`manual`).

use super::FederationError;
use crate::config::identity_providers::{IdentityProvider, ProvisioningMode, UpdatePolicy};
use crate::config::{SYSTEM_TENANT, SYSTEM_WORKSPACE};
use crate::crypto;
use crate::engine::Ctx;
use crate::runtime::{Runtime, SqlDatabase};
use crate::store::{self, federation as links, User};
use serde_json::{Map, Value};

/// Who signed in, for the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// A user of the pool (linked, matched or provisioned now).
    Local(String),
    /// No local user (`off`): the subject is derived from the provider's, stable per provider.
    External(String),
    /// Provisioned (now or before) and awaiting an administrator.
    Pending,
    /// The local user is disabled.
    Disabled,
    /// `match_by` found several users: refused.
    Ambiguous(String),
}

/// The subject of a user who exists only at provider `idp`: stable, opaque, never a local id.
pub fn external_subject(tenant: &str, workspace: &str, idp: &str, subject: &str) -> String {
    let h = crypto::sha256_b64url(format!("idp-sub|{tenant}/{workspace}|{idp}|{subject}").as_bytes());
    format!("x-{idp}-{}", &h[..22])
}

fn failed(e: crate::runtime::StoreError) -> FederationError {
    FederationError::Ours(e.to_string())
}

pub async fn resolve<R: Runtime>(ctx: &Ctx<'_, R>, idp: &IdentityProvider, subject: &str, attributes: &Map<String, Value>) -> Result<Resolved, FederationError> {
    let p = &idp.provisioning;
    if p.mode == ProvisioningMode::Off {
        return Ok(Resolved::External(external_subject(&ctx.tenant, &ctx.workspace, &idp.id, subject)));
    }
    let (t, w, db) = (ctx.tenant.as_str(), ctx.workspace.as_str(), ctx.db());
    let linked = match links::linked_user(db, t, w, &idp.id, subject).await.map_err(failed)? {
        Some(id) => store::get_user(db, t, w, &id).await.map_err(failed)?,
        None => None,
    };
    let user = match linked {
        Some(u) => {
            db.query(links::touch_link(t, w, &idp.id, subject, ctx.now)).await.map_err(failed)?;
            Some(u)
        }
        None => match matched(db, t, w, idp, attributes).await? {
            Matched::One(u) => {
                db.query(links::insert_link(t, w, &idp.id, subject, &u.id, ctx.now)).await.map_err(failed)?;
                Some(u)
            }
            Matched::Several(by) => return Ok(Resolved::Ambiguous(by)),
            Matched::None => None,
        },
    };
    let Some(user) = user else { return provision(ctx, idp, subject, attributes).await };
    if user.disabled {
        return Ok(Resolved::Disabled);
    }
    if links::activity(db, t, w, &user.id).await.map_err(failed)?.pending {
        return Ok(Resolved::Pending);
    }
    if let Some(claims) = updated_claims(&user.claims, attributes, &p.user_attributes, p.update) {
        db.query(links::set_claims(t, w, &user.id, &claims, ctx.now)).await.map_err(failed)?;
    }
    Ok(Resolved::Local(user.id))
}

enum Matched {
    None,
    One(User),
    /// Several users, by this attribute.
    Several(String),
}

async fn matched(db: &impl SqlDatabase, t: &str, w: &str, idp: &IdentityProvider, attributes: &Map<String, Value>) -> Result<Matched, FederationError> {
    for name in &idp.provisioning.match_by {
        let Some(value) = attributes.get(name) else { continue };
        // An email links only when the provider says it verified it.
        if name == "email" && attributes.get("email_verified") != Some(&Value::Bool(true)) {
            continue;
        }
        let mut found = links::users_matching(db, t, w, name, value, false).await.map_err(failed)?;
        match found.len() {
            0 => continue,
            1 => return Ok(Matched::One(found.remove(0))),
            _ => return Ok(Matched::Several(name.clone())),
        }
    }
    Ok(Matched::None)
}

/// The claims after a sign-in under `policy`, or `None` when nothing changes.
pub fn updated_claims(stored: &Map<String, Value>, attributes: &Map<String, Value>, kept: &[String], policy: UpdatePolicy) -> Option<Map<String, Value>> {
    let mut claims = stored.clone();
    for name in kept {
        let Some(v) = attributes.get(name) else { continue };
        match policy {
            UpdatePolicy::Never => {}
            UpdatePolicy::Overwrite => {
                claims.insert(name.clone(), v.clone());
            }
            UpdatePolicy::FillEmpty => {
                claims.entry(name.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    (claims != *stored).then_some(claims)
}

async fn provision<R: Runtime>(ctx: &Ctx<'_, R>, idp: &IdentityProvider, subject: &str, attributes: &Map<String, Value>) -> Result<Resolved, FederationError> {
    let (t, w, db) = (ctx.tenant.as_str(), ctx.workspace.as_str(), ctx.db());
    let pending = idp.provisioning.mode == ProvisioningMode::Manual;
    let claims: Map<String, Value> = idp.provisioning.user_attributes.iter().filter_map(|n| attributes.get(n).map(|v| (n.clone(), v.clone()))).collect();
    // Roles are granted only to users of the administrators' pool (AUT-9331).
    let roles: Vec<(String, String, String)> = if t == SYSTEM_TENANT && w == SYSTEM_WORKSPACE { idp.provisioning.admin_roles.iter().map(|r| (r.tenant.clone(), r.workspace.clone(), r.role.clone())).collect() } else { Vec::new() };
    let wanted = ["preferred_username", "email"].iter().find_map(|k| attributes.get(*k).and_then(Value::as_str)).filter(|u| !u.is_empty() && u.len() <= 256).map(str::to_lowercase);
    // The name the user would have if free; else one made from the provider's id (never a clash
    // that signs someone into another's account: a username names, the link identifies).
    for attempt in 0..2 {
        let username = match (&wanted, attempt) {
            (Some(u), 0) => u.clone(),
            _ => format!("{}-{}", idp.id, &crypto::random_id(ctx.rt.entropy())[..12]).to_lowercase(),
        };
        let user = User { id: crypto::random_id(ctx.rt.entropy()), username, password_hash: None, claims: claims.clone(), disabled: false };
        let made = links::Provisioned { user: &user, link: (&idp.id, subject), pending, roles: &roles };
        if links::provision_user(db, t, w, made, ctx.now).await.map_err(failed)? {
            return Ok(if pending { Resolved::Pending } else { Resolved::Local(user.id) });
        }
    }
    Err(FederationError::Ours("no free username for a provisioned user".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn update_policies() {
        let stored = m(json!({ "email": "old@x.example", "custom": 1 }));
        let now = m(json!({ "email": "new@x.example", "name": "Ada" }));
        let kept = vec!["email".to_string(), "name".to_string()];
        assert_eq!(updated_claims(&stored, &now, &kept, UpdatePolicy::Overwrite), Some(m(json!({ "email": "new@x.example", "name": "Ada", "custom": 1 }))));
        assert_eq!(updated_claims(&stored, &now, &kept, UpdatePolicy::FillEmpty), Some(m(json!({ "email": "old@x.example", "name": "Ada", "custom": 1 }))));
        assert_eq!(updated_claims(&stored, &now, &kept, UpdatePolicy::Never), None);
        assert_eq!(updated_claims(&stored, &m(json!({ "email": "old@x.example" })), &kept, UpdatePolicy::Overwrite), None, "no change, no write");
    }

    #[test]
    fn external_subjects_are_stable_and_scoped() {
        let a = external_subject("acme", "main", "corp", "alice");
        assert_eq!(a, external_subject("acme", "main", "corp", "alice"));
        assert_ne!(a, external_subject("acme", "main", "corp2", "alice"));
        assert_ne!(a, external_subject("acme", "other", "corp", "alice"));
        assert!(a.starts_with("x-corp-"));
    }
}
