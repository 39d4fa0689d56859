//! OpenID Connect on top of OAuth: discovery, userinfo, RP-initiated logout and the user's own
//! account page. (ID tokens are minted in `tokens`, where the token endpoint reaches them.)

pub mod account;
pub mod discovery;
pub mod logout;
pub mod userinfo;
