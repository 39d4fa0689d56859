//! What an authorization code remembers of its authorization request, stored (as JSON) with the
//! code and read back by the token endpoint when the code is redeemed.

use serde::{Deserialize, Serialize};

/// What the token endpoint needs from the authorization request, stored with the code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRequest {
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_claims: Vec<String>,
}
