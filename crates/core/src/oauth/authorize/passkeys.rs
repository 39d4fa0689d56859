//! Passkeys (WebAuthn Level 2): the two ceremonies, each an options call (JSON, fetched by the
//! page's script) and a form post (a navigation, so a sign-in goes on to consent and the client
//! like the password form does).
//!
//! - Registration, for the signed-in user of the account page: `passkeys/registration-options`,
//!   then `passkeys/register` (back to `/app`).
//! - Sign-in, from the sign-in page: `passkeys/assertion-options` (with a username, or without for
//!   discoverable credentials and conditional UI), then `passkeys/sign-in`.
//!
//! Every call carries the page's sealed interaction (CSRF: it must match the `ea_csrf` cookie).
//! A challenge travels sealed (AES-GCM under the master secret, for this workspace and ceremony,
//! 5 minutes) in the options' `state`, so asking for options writes nothing; it is used once:
//! its id is consumed like a client assertion's `jti` before the response is checked, so a
//! replayed or a failed response burns it.
//!
//! AUT-9710: options for a username with no passkeys (or no account) list one credential id
//! derived from the username under a key of this workspace: the same length as ours, stable
//! across calls, and computed on every call, so the answer says nothing about who exists.

use super::{load_client, step_response, AuthRequest};
use crate::aal::Factors;
use crate::authn::session::{self, SignIn};
use crate::authn::throttle;
use crate::crypto::{self, b64url, b64url_decode};
use crate::engine::Ctx;
use crate::error::OAuthError;
use crate::http::{Params, Request, Response};
use crate::runtime::{Alg, Runtime, SsoSession};
use crate::store::{self, passkeys::Passkey};
use crate::web::forms::{self, Stage};
use crate::web::pages::{self, PasskeyForm};
use crate::webauthn::{self, Expected, WebauthnError};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const CHALLENGE_TTL: i64 = 300;
/// The browser's timeout, in milliseconds (a little under the challenge's life).
const TIMEOUT_MS: i64 = 240_000;
/// The length of the credential ids this server hands out for unknown users: 32 bytes, the most
/// common length of authenticators' ids (and of the software authenticators in the tests).
const FAKE_ID_LEN: usize = 32;
const MAX_CREDENTIAL_JSON: usize = 16 * 1024;
const MAX_NAME: usize = 64;
/// Passkeys per user: enough for every device a person has; bounds what one account can store.
pub const MAX_PER_USER: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Ceremony {
    Register,
    Authenticate,
}

#[derive(Debug, Serialize, Deserialize)]
struct Challenge {
    id: String,
    ceremony: Ceremony,
    challenge: String,
    exp: i64,
    /// Registration: the user it is for.
    #[serde(default)]
    user: Option<String>,
}

fn seal_context<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    format!("passkey-challenge|{}/{}", ctx.tenant, ctx.workspace)
}

/// This workspace's origin (the issuer without its path): the only origin a response may name.
fn origin<R: Runtime>(ctx: &Ctx<'_, R>) -> String {
    let suffix = format!("/{}/{}", ctx.tenant, ctx.workspace);
    ctx.issuer.strip_suffix(&suffix).unwrap_or(&ctx.issuer).to_string()
}

/// The relying party id: configured, or the origin's host. A configured one must be the host or a
/// suffix of it at a label boundary (what browsers allow), else no ceremony can succeed: refused.
fn rp_id<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<String, OAuthError> {
    let host = url::Url::parse(&origin(ctx)).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    let configured = &ctx.config.login.passkeys.rp_id;
    if configured.is_empty() {
        return Ok(host);
    }
    if host == *configured || host.ends_with(&format!(".{configured}")) {
        Ok(configured.clone())
    } else {
        Err(OAuthError::invalid_request("passkeys are misconfigured in this workspace").with_cause(format!("login.passkeys.rp_id {configured} does not cover host {host}")))
    }
}

fn enabled<R: Runtime>(ctx: &Ctx<'_, R>) -> Result<(), OAuthError> {
    if ctx.config.login.passkeys.enabled {
        Ok(())
    } else {
        Err(OAuthError::invalid_request("passkeys are not enabled in this workspace"))
    }
}

fn refused(e: WebauthnError) -> OAuthError {
    OAuthError::invalid_request(e.public()).with_cause(format!("passkey: {e}"))
}

/// A fresh challenge and its sealed state.
fn new_challenge<R: Runtime>(ctx: &Ctx<'_, R>, ceremony: Ceremony, user: Option<&str>) -> (String, String) {
    let e = ctx.rt.entropy();
    let challenge = crypto::random_token(e);
    let c = Challenge { id: crypto::random_id(e), ceremony, challenge: challenge.clone(), exp: ctx.now + CHALLENGE_TTL, user: user.map(str::to_string) };
    let sealed = crypto::seal(ctx.rt.master_secret(), &seal_context(ctx), e, &serde_json::to_vec(&c).unwrap_or_default());
    (challenge, sealed)
}

/// Opens a posted `state`, checks its ceremony and expiry, and consumes it.
async fn use_challenge<R: Runtime>(ctx: &Ctx<'_, R>, params: &Params, ceremony: Ceremony) -> Result<Challenge, OAuthError> {
    let invalid = || OAuthError::invalid_request("the passkey challenge is invalid; try again");
    let sealed = params.require("state")?;
    let raw = crypto::open(ctx.rt.master_secret(), &seal_context(ctx), sealed).map_err(|_| invalid())?;
    let c: Challenge = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    if c.ceremony != ceremony {
        return Err(invalid());
    }
    if c.exp <= ctx.now {
        return Err(OAuthError::invalid_request("the passkey challenge has expired; try again"));
    }
    if !store::use_jti(ctx.db(), &ctx.tenant, &ctx.workspace, "passkeys", &format!("passkey-challenge:{}", c.id), c.exp).await? {
        return Err(OAuthError::invalid_request("the passkey challenge was already used; try again"));
    }
    Ok(c)
}

/// `PublicKeyCredential.toJSON()`'s shape (WebAuthn Level 3), which the page's script builds.
#[derive(Debug, Deserialize)]
struct CredentialJson {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    response: ResponseJson,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseJson {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    attestation_object: Option<String>,
    authenticator_data: Option<String>,
    signature: Option<String>,
    user_handle: Option<String>,
    #[serde(default)]
    transports: Vec<String>,
}

fn credential(params: &Params) -> Result<CredentialJson, OAuthError> {
    let raw = params.require("credential")?;
    if raw.len() > MAX_CREDENTIAL_JSON {
        return Err(refused(WebauthnError::Malformed("credential over 16 KB".into())));
    }
    let c: CredentialJson = serde_json::from_str(raw).map_err(|e| refused(WebauthnError::Malformed(format!("credential JSON: {e}"))))?;
    if c.kind != "public-key" {
        return Err(refused(WebauthnError::Malformed(format!("credential type {}", c.kind))));
    }
    Ok(c)
}

fn bytes(field: &str, value: Option<&str>) -> Result<Vec<u8>, OAuthError> {
    value.and_then(b64url_decode).ok_or_else(|| refused(WebauthnError::Malformed(format!("{field} is missing or not base64url"))))
}

fn expected<'a, R: Runtime>(ctx: &Ctx<'_, R>, challenge: &'a [u8], origin: &'a str, rp_id: &'a str) -> Expected<'a> {
    Expected { challenge, origin, rp_id, require_uv: ctx.config.login.passkeys.require_uv() }
}

fn cred_params() -> Value {
    json!([{"type": "public-key", "alg": webauthn::COSE_ES256}, {"type": "public-key", "alg": webauthn::COSE_RS256}])
}

// ---------------------------------------------------------------------------------------------
// Registration (the account page)

/// The signed-in user an account-page call (or the offer after a password sign-in) acts for: the
/// posted interaction's session must be the browser's live one. The offer's authorization comes
/// back with it, to go on with once the passkey is registered.
pub async fn account_user<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, params: &Params) -> Result<(store::User, Option<AuthRequest>, SsoSession), OAuthError> {
    let i: forms::Interaction<AuthRequest> = match forms::resume(ctx, req, params, Stage::Account) {
        Ok(i) => i,
        Err(e) => forms::resume(ctx, req, params, Stage::PasskeyOffer).map_err(|_| e)?,
    };
    let ended = || OAuthError::login_required("your session has ended; sign in again");
    let session = session::current(ctx, req, session::Freshness::Bounded).await?.filter(|s| Some(&s.sid) == i.sid.as_ref()).ok_or_else(ended)?;
    let user = store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await?.filter(|u| !u.disabled).ok_or_else(ended)?;
    Ok((user, i.ar, session))
}

/// The page offering a passkey right after a password sign-in: when passkeys are on, the session
/// is stored (a passkey needs a user to come back as) and the user has none yet.
pub async fn offer<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, ar: &AuthRequest, session: &SsoSession) -> Result<Option<Response>, OAuthError> {
    if !ctx.config.login.passkeys.enabled || session.ephemeral || ar.prompts("none") {
        return Ok(None);
    }
    if !store::passkeys::for_user(ctx.db(), &ctx.tenant, &ctx.workspace, &session.user_id).await?.is_empty() {
        return Ok(None);
    }
    let (blob, set_cookie) = forms::begin(ctx, req, Stage::PasskeyOffer, Some(ar), Some(&session.sid), None);
    let (options, action) = (ctx.endpoint("passkeys/registration-options"), ctx.endpoint("passkeys/register"));
    let locale = forms::locale(ctx, req, ar.ui_locales.as_deref());
    let page = pages::passkey_offer(locale, &ctx.endpoint("passkeys/continue"), &blob, &PasskeyForm { options: &options, action: &action });
    Ok(Some(forms::with_cookie(pages::with_script(page, &ctx.endpoint("passkeys.js")), set_cookie)))
}

/// POST passkeys/continue: "not now" on the offer; the authorization goes on.
pub async fn decline<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, decline_inner(ctx, req).await)
}

async fn decline_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i: forms::Interaction<AuthRequest> = forms::resume(ctx, req, &params, Stage::PasskeyOffer)?;
    let ar = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    let session = session::current(ctx, req, session::Freshness::Bounded).await?.filter(|s| Some(&s.sid) == i.sid.as_ref()).ok_or_else(|| OAuthError::login_required("your session has ended; sign in again"))?;
    let client = load_client(ctx, &ar.client_id).await?;
    Ok(super::after_login(ctx, req, &ar, &client, &session).await)
}

/// POST passkeys/registration-options: `PublicKeyCredentialCreationOptions` as JSON (binary
/// members base64url), and the sealed `state` to post back with the credential.
pub async fn registration_options<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    enabled(ctx)?;
    let params = req.form_params()?;
    let (user, _, _) = account_user(ctx, req, &params).await?;
    let rp_id = rp_id(ctx)?;
    let existing = store::passkeys::for_user(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id).await?;
    let (challenge, state) = new_challenge(ctx, Ceremony::Register, Some(&user.id));
    let display = user.claims.get("name").and_then(Value::as_str).unwrap_or(&user.username);
    let rp_name = if ctx.config.name.is_empty() { &ctx.workspace } else { &ctx.config.name };
    Ok(Response::json_no_store(
        200,
        &json!({
            "publicKey": {
                "rp": {"id": rp_id, "name": rp_name},
                // The user handle is the user's id (random, no personal data), as bytes.
                "user": {"id": b64url(user.id.as_bytes()), "name": user.username, "displayName": display},
                "challenge": challenge,
                "pubKeyCredParams": cred_params(),
                "timeout": TIMEOUT_MS,
                "excludeCredentials": existing.iter().map(|p| json!({"type": "public-key", "id": p.credential_id})).collect::<Vec<_>>(),
                "authenticatorSelection": {"residentKey": "required", "requireResidentKey": true, "userVerification": ctx.config.login.passkeys.user_verification},
                "attestation": "none",
            },
            "state": state,
        }),
    ))
}

/// POST passkeys/register: checks the new credential and stores it for the signed-in user.
pub async fn register<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, register_inner(ctx, req).await)
}

async fn register_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    enabled(ctx)?;
    let params = req.form_params()?;
    let (user, offered, session) = account_user(ctx, req, &params).await?;
    let cred = credential(&params)?;
    let name = params.get("name").unwrap_or("").trim();
    if name.chars().count() > MAX_NAME {
        return Err(OAuthError::invalid_request(format!("a passkey's name has at most {MAX_NAME} characters")));
    }
    let c = use_challenge(ctx, &params, Ceremony::Register).await?;
    if c.user.as_deref() != Some(user.id.as_str()) {
        return Err(OAuthError::invalid_request("the passkey challenge is invalid; try again").with_cause("registration challenge of another user"));
    }
    let client_data = bytes("clientDataJSON", Some(&cred.response.client_data_json))?;
    let attestation = bytes("attestationObject", cred.response.attestation_object.as_deref())?;
    let (origin, rp_id) = (origin(ctx), rp_id(ctx)?);
    let challenge = b64url_decode(&c.challenge).unwrap_or_default();
    let new = webauthn::check_registration(&client_data, &attestation, &expected(ctx, &challenge, &origin, &rp_id)).map_err(refused)?;
    if b64url(&new.id) != cred.id {
        return Err(refused(WebauthnError::Malformed("the credential's id is not the attested one".into())));
    }
    let transports: Vec<String> = cred.response.transports.into_iter().filter(|t| t.len() <= 32 && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')).take(8).collect();
    let passkey = Passkey {
        credential_id: b64url(&new.id),
        user_id: user.id.clone(),
        alg: new.alg.as_str().to_string(),
        public_key: new.public_jwk,
        sign_count: i64::from(new.sign_count),
        aaguid: new.aaguid,
        name: if name.is_empty() { "Passkey".to_string() } else { name.to_string() },
        transports,
        backup_eligible: new.backup_eligible,
        created_at: ctx.now,
        last_used_at: None,
    };
    if store::passkeys::for_user(ctx.db(), &ctx.tenant, &ctx.workspace, &user.id).await?.len() >= MAX_PER_USER {
        return Err(OAuthError::invalid_request(format!("an account has at most {MAX_PER_USER} passkeys; delete one first")));
    }
    if !store::passkeys::insert(ctx.db(), &ctx.tenant, &ctx.workspace, &passkey).await? {
        return Err(OAuthError::invalid_request("this passkey is already registered"));
    }
    // Offered after a password sign-in: the authorization goes on.
    if let Some(ar) = offered {
        let client = load_client(ctx, &ar.client_id).await?;
        return Ok(super::after_login(ctx, req, &ar, &client, &session).await);
    }
    Ok(Response::redirect(&ctx.endpoint("app")))
}

// ---------------------------------------------------------------------------------------------
// Sign-in (the sign-in page)

/// The credential id shown for a username with no passkeys: HMAC-SHA-256 of the username under a
/// key derived from the master secret for this workspace.
fn fake_credential_id<R: Runtime>(ctx: &Ctx<'_, R>, username: &str) -> String {
    let key = crypto::sha256(&[ctx.rt.master_secret(), format!("|passkey-fake-credential|{}/{}", ctx.tenant, ctx.workspace).as_bytes()].concat());
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    b64url(&mac.finalize().into_bytes()[..FAKE_ID_LEN])
}

/// POST passkeys/assertion-options: `PublicKeyCredentialRequestOptions` as JSON and the sealed
/// `state`. With a `username`, the user's credentials (or, AUT-9710, a fake one); without, an
/// empty list: the browser offers the discoverable credentials it has for this site.
pub async fn assertion_options<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    enabled(ctx)?;
    let params = req.form_params()?;
    forms::resume::<_, serde::de::IgnoredAny>(ctx, req, &params, Stage::Login)?;
    let rp_id = rp_id(ctx)?;
    let username = params.get("username").map(str::trim).filter(|u| !u.is_empty());
    let allow = match username {
        None => Vec::new(),
        Some(name) => {
            if name.len() > 256 {
                return Err(OAuthError::invalid_request("the username is too long"));
            }
            // The same queries and the same HMAC whether or not the user exists or has passkeys.
            let user = store::get_user_by_username(ctx.db(), &ctx.tenant, &ctx.workspace, name).await?;
            let owner = user.as_ref().map_or("", |u| u.id.as_str());
            let real = store::passkeys::for_user(ctx.db(), &ctx.tenant, &ctx.workspace, owner).await?;
            let fake = fake_credential_id(ctx, &name.to_lowercase());
            if real.is_empty() {
                vec![fake]
            } else {
                real.into_iter().map(|p| p.credential_id).collect()
            }
        }
    };
    let (challenge, state) = new_challenge(ctx, Ceremony::Authenticate, None);
    Ok(Response::json_no_store(
        200,
        &json!({
            "publicKey": {
                "challenge": challenge,
                "rpId": rp_id,
                "timeout": TIMEOUT_MS,
                // No transports: they would tell stored credentials from the fake one.
                "allowCredentials": allow.iter().map(|id| json!({"type": "public-key", "id": id})).collect::<Vec<_>>(),
                "userVerification": ctx.config.login.passkeys.user_verification,
            },
            "state": state,
        }),
    ))
}

/// POST passkeys/sign-in: checks the assertion, then goes on like any sign-in (extensions,
/// session, consent, the client).
pub async fn sign_in<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Response {
    step_response(ctx, req, sign_in_inner(ctx, req).await)
}

async fn sign_in_inner<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request) -> Result<Response, OAuthError> {
    let params = req.form_params()?;
    let i = forms::resume::<_, AuthRequest>(ctx, req, &params, Stage::Login)?;
    let ar = i.ar.ok_or_else(|| OAuthError::invalid_request("the form is invalid"))?;
    enabled(ctx)?;
    if !throttle::login_form_post(ctx, &i.id, i.exp).await? {
        return Err(OAuthError::invalid_request("this sign-in page has expired (it was submitted too many times); start again from the application"));
    }
    let cred = credential(&params)?;
    let c = use_challenge(ctx, &params, Ceremony::Authenticate).await?;
    let client_data = bytes("clientDataJSON", Some(&cred.response.client_data_json))?;
    let auth_data = bytes("authenticatorData", cred.response.authenticator_data.as_deref())?;
    let signature = bytes("signature", cred.response.signature.as_deref())?;
    if cred.id.len() > 2 * webauthn::MAX_CREDENTIAL_ID {
        return Err(refused(WebauthnError::Malformed("credential id too long".into())));
    }
    let unknown = || OAuthError::invalid_request("this passkey is not registered here");
    let stored = store::passkeys::get(ctx.db(), &ctx.tenant, &ctx.workspace, &cred.id).await?.ok_or_else(unknown)?;
    // A discoverable credential names its user: it must be the one the credential belongs to.
    if let Some(handle) = cred.response.user_handle.as_deref().filter(|h| !h.is_empty()) {
        if handle != b64url(stored.user_id.as_bytes()) {
            return Err(refused(WebauthnError::Malformed("userHandle is not the credential's user".into())));
        }
    }
    let (origin, rp_id) = (origin(ctx), rp_id(ctx)?);
    let challenge = b64url_decode(&c.challenge).unwrap_or_default();
    let assertion = webauthn::check_assertion(&client_data, &auth_data, &expected(ctx, &challenge, &origin, &rp_id)).map_err(refused)?;
    let alg = Alg::parse(&stored.alg).ok_or_else(|| OAuthError::server_error(format!("stored passkey alg {}", stored.alg)))?;
    webauthn::verify_signature(ctx.rt.signer(), alg, &stored.public_key, &assertion.signed, &signature).await?.map_err(refused)?;
    let seen = u32::try_from(stored.sign_count).unwrap_or(u32::MAX);
    if !webauthn::counter_advances(seen, assertion.sign_count) {
        return Err(refused(WebauthnError::CounterRegressed { stored: seen, got: assertion.sign_count }));
    }
    // A disabled user's passkey is answered like an unknown one, and its counter left alone.
    let user = store::get_user(ctx.db(), &ctx.tenant, &ctx.workspace, &stored.user_id).await?.filter(|u| !u.disabled).ok_or_else(unknown)?;
    if !store::passkeys::record_use(ctx.db(), &ctx.tenant, &ctx.workspace, &stored.credential_id, stored.sign_count, i64::from(assertion.sign_count), ctx.now).await? {
        return Err(refused(WebauthnError::CounterRegressed { stored: seen, got: assertion.sign_count }));
    }
    let client = load_client(ctx, &ar.client_id).await?;
    // A passkey is possession; one that verified the user (PIN, biometrics) is two factors.
    let sign_in = SignIn::local(ctx, &user.id, Factors::passkey(assertion.user_verified));
    super::extensions::signed_in(ctx, req, &ar, &client, sign_in, Some(&user)).await
}
