//! The authentication context's schema (seed 004) and the claims lineage of a workspace: read the
//! schema (predefined and custom attributes, and the JSON Schema a context must satisfy), add,
//! change and delete custom attributes, read and replace the claim rules. Both live in the
//! workspace configuration; every change takes `workspaces::change_config`, the path of a
//! configuration replace.

use super::access::{Need, MANAGE_WORKSPACES};
use super::workspaces::change_config;
use super::{created, json_body, json_object_body, no_content, Call};
use crate::config::authn_context::{is_predefined, AttributeDef, AuthnContextConfig, ClaimRule};
use crate::config::extensions::Extension;
use crate::config::identity_providers::{self as idps, IdentityProviders};
use crate::error::{OAuthError, Problem};
use crate::http::Response;
use crate::runtime::Runtime;
use serde_json::{json, Value};

fn render_attribute(a: &AttributeDef) -> Value {
    let mut v = json!(a);
    v["predefined"] = json!(is_predefined(&a.name));
    v
}

fn render_schema(ctx: &AuthnContextConfig) -> Value {
    json!({ "attributes": ctx.all_attributes().iter().map(render_attribute).collect::<Vec<_>>(), "schema": ctx.schema_document() })
}

pub async fn get<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let cfg = c.workspace(t, w).await?;
    Ok(Response::json_no_store(200, &render_schema(&cfg.authn_context)))
}

fn read_only(name: &str) -> Problem {
    Problem::conflict(format!("'{name}' is a predefined attribute: it cannot be changed or deleted"))
}

fn unknown(name: &str) -> Problem {
    Problem::not_found(format!("no custom attribute '{name}' in the authentication context"))
}

fn attribute_from_json(v: Value) -> Result<AttributeDef, Problem> {
    serde_json::from_value(v).map_err(OAuthError::invalid_configuration_document)
}

/// Adds a custom attribute: 409 when the name is taken (by a custom or a predefined attribute).
pub async fn add_attribute<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let a = attribute_from_json(json_object_body(c.req)?)?;
    let name = a.name.clone();
    change_config(c, t, w, |cfg| {
        if cfg.authn_context.has(&a.name) {
            return Err(Problem::conflict(format!("the authentication context already has an attribute '{}'", a.name)));
        }
        cfg.authn_context.attributes.push(a.clone());
        Ok(())
    })
    .await?;
    Ok(created(format!("/api/tenants/{t}/workspaces/{w}/authn-context/attributes/{name}"), &render_attribute(&a)))
}

/// Changes a custom attribute's type or description; the body's `name` is the path's or absent.
pub async fn replace_attribute<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, name: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    let mut body = json_object_body(c.req)?;
    match body.get("name") {
        None => body["name"] = json!(name),
        Some(v) if v.as_str() == Some(name) => {}
        Some(_) => return Err(OAuthError::invalid_configuration("authn_context.attributes", "a name cannot change (add the new attribute, then delete this one)")),
    }
    let a = attribute_from_json(body)?;
    if is_predefined(name) {
        return Err(read_only(name));
    }
    change_config(c, t, w, |cfg| {
        let slot = cfg.authn_context.attributes.iter_mut().find(|x| x.name == name).ok_or_else(|| unknown(name))?;
        *slot = a.clone();
        Ok(())
    })
    .await?;
    Ok(Response::json_no_store(200, &render_attribute(&a)))
}

/// Who uses context attribute `name`: claim rules, the workspace's providers (a mapping's
/// target, provisioning's `match_by` and `user_attributes`) and its extensions (a transform's
/// target), in words for a 409.
fn users_of(name: &str, rules: &[ClaimRule], providers: &IdentityProviders, extensions: &[Extension]) -> Vec<String> {
    let mut out: Vec<String> = rules.iter().filter(|r| r.attribute == name).map(|r| format!("claim rule '{}'", r.claim)).collect();
    out.extend(extensions.iter().filter(|e| e.mappings.iter().any(|m| m.target == name)).map(|e| format!("extension '{}'", e.id)));
    for p in &providers.providers {
        let p_uses = p.mappings.iter().any(|m| m.target == name) || p.provisioning.match_by.iter().any(|a| a == name) || p.provisioning.user_attributes.iter().any(|a| a == name);
        if p_uses {
            out.push(format!("identity provider '{}'", p.id));
        }
    }
    out
}

/// Deletes a custom attribute; 409 while a claim rule or a provider of the workspace uses it.
pub async fn delete_attribute<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str, name: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    if is_predefined(name) {
        return Err(read_only(name));
    }
    let providers = idps::load(c.rt.kv(), t, w).await?;
    change_config(c, t, w, |cfg| {
        let before = cfg.authn_context.attributes.len();
        cfg.authn_context.attributes.retain(|a| a.name != name);
        if cfg.authn_context.attributes.len() == before {
            return Err(unknown(name));
        }
        match users_of(name, &cfg.claims, &providers, &cfg.extensions).as_slice() {
            [] => Ok(()),
            users => Err(Problem::conflict(format!("'{name}' is in use by {}: change those first", users.join(", ")))),
        }
    })
    .await?;
    Ok(no_content())
}

/// The data lineage: the workspace's claim rules (empty: the claims the scopes name, as always).
pub async fn get_claims<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, true)).await?;
    let cfg = c.workspace(t, w).await?;
    Ok(Response::json_no_store(200, &json!(cfg.claims)))
}

/// Replaces the claim rules (a JSON array), validated with the whole configuration.
pub async fn replace_claims<R: Runtime>(c: &Call<'_, R>, t: &str, w: &str) -> Result<Response, Problem> {
    c.allow(Need::workspace(MANAGE_WORKSPACES, t, w, false)).await?;
    if c.req.body.is_empty() {
        return Err(Problem::invalid_request("the body must be a JSON array of claim rules (it is empty)"));
    }
    let v: Value = json_body(c.req)?;
    if !v.is_array() {
        return Err(Problem::invalid_request("the body must be a JSON array of claim rules"));
    }
    let rules: Vec<ClaimRule> = serde_json::from_value(v).map_err(OAuthError::invalid_configuration_document)?;
    let cfg = change_config(c, t, w, |cfg| {
        cfg.claims = rules;
        Ok(())
    })
    .await?;
    Ok(Response::json_no_store(200, &json!(cfg.claims)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::identity_providers::IdentityProvider;

    #[test]
    fn an_attribute_in_use_names_its_users() {
        let rule = ClaimRule { claim: "crm".into(), attribute: "crm_id".into(), scopes: vec![], id_token: true, access_token: false, userinfo: false };
        let p: IdentityProvider = serde_json::from_value(json!({ "id": "corp", "type": "oidc", "name": "Corp", "mappings": [{ "source": "crm", "target": "crm_id" }] })).unwrap();
        let mut q = p.clone();
        q.id = "other".into();
        q.mappings.clear();
        q.provisioning.match_by = vec!["crm_id".into()];
        let providers = IdentityProviders { providers: vec![p, q], ..Default::default() };
        let ext: Extension = serde_json::from_value(json!({ "id": "crm", "type": "transform", "order": 1, "mappings": [{ "target": "crm_id", "transform": { "type": "constant", "value": "x" } }] })).unwrap();
        assert_eq!(users_of("crm_id", std::slice::from_ref(&rule), &providers, std::slice::from_ref(&ext)), ["claim rule 'crm'", "extension 'crm'", "identity provider 'corp'", "identity provider 'other'"]);
        assert!(users_of("tier", &[rule], &providers, &[ext]).is_empty());
    }

    #[test]
    fn attributes_show_whether_they_are_predefined() {
        let ctx = AuthnContextConfig { attributes: vec![attribute_from_json(json!({ "name": "crm_id", "type": "string" })).unwrap()] };
        let shown = render_schema(&ctx);
        let find = |n: &str| shown["attributes"].as_array().unwrap().iter().find(|a| a["name"] == n).cloned().unwrap();
        assert_eq!(find("email")["predefined"], true);
        assert_eq!(find("crm_id")["predefined"], false);
        assert_eq!(shown["schema"]["properties"]["crm_id"]["type"], "string");
        assert!(attribute_from_json(json!({ "name": "x", "type": "uuid" })).is_err());
    }
}
