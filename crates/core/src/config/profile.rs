//! The security profile of a workspace, and every rule it changes, each in one place: discovery
//! advertises what these methods say, and enforcement checks what they say. Nothing outside this
//! file asks whether the profile is on; it asks the rule.

use crate::aal::Aal;
use super::{check, client, WorkspaceConfig};
use crate::error::OAuthError;
use crate::runtime::Alg;
use serde::{Deserialize, Serialize};

/// A security profile switched on per workspace. `fapi_br` is FAPI 1 Advanced as Open Finance
/// Brasil profiles it: PAR and signed request objects required, PS256 only, `private_key_jwt` only,
/// access tokens of 300 to 900 s, no refresh-token rotation, no `id_token_hint`, `acr` always in the
/// ID token, `x-fapi-interaction-id` on every resource-style response; `code id_token` only when
/// `response_type_code_id_token` switches it on; JARM responses in PS256.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    #[default]
    None,
    FapiBr,
}

impl Profile {
    pub fn is_none(&self) -> bool {
        *self == Profile::None
    }
}

/// The Brazilian levels of assurance (`acr`): loa2 is the one the profile says every ID token shall carry.
pub const ACR_BR_LOA2: &str = "urn:brasil:openbanking:loa2";
pub const ACR_BR_LOA3: &str = "urn:brasil:openbanking:loa3";
/// Access-token lifetimes the Brazil profile allows.
pub const FAPI_BR_ACCESS_TOKEN_TTL: std::ops::RangeInclusive<i64> = 300..=900;

/// The client-authentication methods every workspace offers.
const ALL_AUTH_METHODS: &[&str] = &client::AUTH_METHODS;
/// The methods the Brazil profile allows (FAPI 1 Advanced 5.2.2-14: `private_key_jwt` or mutual TLS).
const FAPI_BR_AUTH_METHODS: &[&str] = &[client::AUTH_PRIVATE_KEY_JWT, client::AUTH_TLS];
const FAPI_BR_ACR_VALUES: &[&str] = &[ACR_BR_LOA2, ACR_BR_LOA3];

impl WorkspaceConfig {
    /// The Open Finance Brasil security profile is on. Private to the configuration: callers ask
    /// the rule they need, below.
    pub(super) fn fapi_br(&self) -> bool {
        self.profile == Profile::FapiBr
    }

    /// What the profile asks of the rest of the configuration.
    pub(super) fn validate_profile(&self) -> Result<(), OAuthError> {
        if self.fapi_br() {
            check(FAPI_BR_ACCESS_TOKEN_TTL.contains(&self.access_token_ttl), "access_token_ttl", "must be between 300 and 900 seconds under the fapi_br profile")?;
            check(self.default_signing_alg == Alg::PS256, "default_signing_alg", "must be PS256 under the fapi_br profile")?;
        }
        Ok(())
    }

    /// PAR is required of every client (the switch, or the profile).
    pub fn par_required(&self) -> bool {
        self.require_pushed_authorization_requests || self.fapi_br()
    }

    /// Signed request objects are required of every client (the switch, or the profile).
    pub fn request_object_required(&self) -> bool {
        self.require_signed_request_object || self.fapi_br()
    }

    /// A request object must carry `nbf` as well as `exp` (FAPI 1 Advanced 5.2.2-17).
    pub fn request_object_nbf_required(&self) -> bool {
        self.fapi_br()
    }

    /// The only algorithm the profile allows for what we sign and what clients sign, if any.
    pub fn only_alg(&self) -> Option<Alg> {
        self.fapi_br().then_some(Alg::PS256)
    }

    /// The client-authentication methods this workspace accepts (and discovery lists).
    pub fn client_auth_methods(&self) -> &'static [&'static str] {
        if self.fapi_br() {
            FAPI_BR_AUTH_METHODS
        } else {
            ALL_AUTH_METHODS
        }
    }

    /// The `acr` values this workspace issues (and discovery lists): the Brazilian levels under
    /// the profile, else the password login's.
    pub fn acr_values_supported(&self) -> Vec<String> {
        if self.fapi_br() {
            FAPI_BR_ACR_VALUES.iter().map(|s| s.to_string()).collect()
        } else if self.login.aal_floor().is_some() {
            crate::aal::ALL.iter().map(|s| s.to_string()).collect()
        } else {
            vec![self.login.password_acr.clone()]
        }
    }

    /// The `acr` a password login records: the profile's loa2 unless the workspace names a Brazilian level itself.
    pub fn login_acr(&self) -> String {
        self.id_token_acr(&self.login.password_acr).to_string()
    }

    /// The `acr` a sign-in of ours records for the level it reached: the level's name where the
    /// workspace states levels (`login.aal`) or the sign-in used two factors; else the password
    /// login's (a workspace from before levels, signed in with one factor).
    pub fn sign_in_acr(&self, level: Option<Aal>) -> String {
        match level {
            Some(l) if self.login.aal_floor().is_some() || l >= Aal::Two => l.as_str().to_string(),
            _ => self.login_acr(),
        }
    }

    /// The `acr` an ID token states for a session authenticated at `session_acr`: under the
    /// profile always one of its levels: loa3 for two factors (NIST-AAL-2 or 3), else loa2 (a
    /// session from before the switch included).
    pub fn id_token_acr<'a>(&self, session_acr: &'a str) -> &'a str {
        if !self.fapi_br() || FAPI_BR_ACR_VALUES.contains(&session_acr) {
            session_acr
        } else if matches!(Aal::parse(session_acr), Some(Aal::Two | Aal::Three)) {
            ACR_BR_LOA3
        } else {
            ACR_BR_LOA2
        }
    }

    /// `response_type=code id_token` is offered (see [`WorkspaceConfig::response_type_code_id_token`]).
    pub fn code_id_token_enabled(&self) -> bool {
        self.response_type_code_id_token.unwrap_or(!self.fapi_br())
    }

    /// PKCE is required of every client, not only public ones (FAPI 1 Advanced 5.2.2-18 with PAR).
    pub fn pkce_required(&self) -> bool {
        self.fapi_br()
    }

    /// `id_token_hint` is accepted at the authorization and logout endpoints. The profile refuses
    /// it: the ID token is signed, not encrypted, and would carry personal data through the browser.
    pub fn check_id_token_hint_accepted(&self) -> Result<(), OAuthError> {
        if self.fapi_br() {
            return Err(OAuthError::invalid_request("id_token_hint is not accepted under the fapi_br profile; send client_id instead"));
        }
        Ok(())
    }

    /// Refresh tokens may rotate (clients choose); the profile keeps them for the grant's lifetime.
    pub fn refresh_token_rotation_allowed(&self) -> bool {
        !self.fapi_br()
    }

    /// Every access token issued over mutual TLS is bound to the certificate (RFC 8705 §3), not
    /// only those of clients that asked for it.
    pub fn certificate_bound_tokens_required(&self) -> bool {
        self.fapi_br()
    }

    /// The Open Finance APIs (consents, payments, consent introspection) and the consent-bound
    /// `consent:{id}` scope exist in this workspace.
    pub fn open_finance_enabled(&self) -> bool {
        self.fapi_br()
    }

    /// Resource-style responses carry `x-fapi-interaction-id` (FAPI 1 Baseline 6.2.1-11).
    pub fn fapi_interaction_id(&self) -> bool {
        self.fapi_br()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fapi() -> WorkspaceConfig {
        WorkspaceConfig { profile: Profile::FapiBr, ..WorkspaceConfig::default() }
    }

    #[test]
    fn plain_workspaces_keep_every_default() {
        let c = WorkspaceConfig::default();
        assert!(!c.par_required() && !c.request_object_required() && !c.request_object_nbf_required() && !c.pkce_required());
        assert_eq!(c.only_alg(), None);
        assert_eq!(c.client_auth_methods(), ALL_AUTH_METHODS);
        assert!(c.check_id_token_hint_accepted().is_ok() && c.refresh_token_rotation_allowed() && c.code_id_token_enabled());
        assert!(!c.certificate_bound_tokens_required() && !c.open_finance_enabled() && !c.fapi_interaction_id());
        assert_eq!(c.acr_values_supported(), vec![c.login.password_acr.clone()]);
        assert_eq!(c.id_token_acr("urn:x"), "urn:x");
    }

    #[test]
    fn the_brazil_profile_tightens_each_rule() {
        let c = fapi();
        assert!(c.par_required() && c.request_object_required() && c.request_object_nbf_required() && c.pkce_required());
        assert_eq!(c.only_alg(), Some(Alg::PS256));
        assert_eq!(c.client_auth_methods(), &["private_key_jwt", "tls_client_auth"]);
        assert!(c.check_id_token_hint_accepted().is_err() && !c.refresh_token_rotation_allowed() && !c.code_id_token_enabled());
        assert!(c.certificate_bound_tokens_required() && c.open_finance_enabled() && c.fapi_interaction_id());
        assert_eq!(c.acr_values_supported(), vec![ACR_BR_LOA2.to_string(), ACR_BR_LOA3.to_string()]);
    }

    #[test]
    fn the_brazil_profile_states_one_of_its_levels() {
        let c = fapi();
        assert_eq!(c.id_token_acr("urn:x"), ACR_BR_LOA2);
        assert_eq!(c.id_token_acr(ACR_BR_LOA3), ACR_BR_LOA3);
        assert_eq!(c.login_acr(), ACR_BR_LOA2);
        let mut c = fapi();
        c.login.password_acr = ACR_BR_LOA3.into();
        assert_eq!(c.login_acr(), ACR_BR_LOA3);
    }
}
