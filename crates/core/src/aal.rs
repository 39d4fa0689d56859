//! NIST SP 800-63B authenticator assurance levels (AAL), a leaf: both legs side by side: what a sign-in's
//! methods reach, and what an authorization requires (the workspace's floor, the request's
//! `acr_values`, or the client's `default_acr_values`).
//!
//! Methods (RFC 8176 `amr`): `pwd` (the password), `otp` (an emailed code or an authenticator
//! app's), `pop` (a passkey). `mfa` is added when two or more factors were used; a passkey that
//! verified its user (PIN, biometrics) is two factors on its own.
//! - AAL1: any one factor;
//! - AAL2: two distinct factors, or a user-verified passkey;
//! - AAL3: a user-verified passkey (the only phishing-resistant, verifier-bound method here).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Aal {
    #[serde(rename = "NIST-AAL-1")]
    One = 1,
    #[serde(rename = "NIST-AAL-2")]
    Two = 2,
    #[serde(rename = "NIST-AAL-3")]
    Three = 3,
}

pub const ALL: [&str; 3] = ["NIST-AAL-1", "NIST-AAL-2", "NIST-AAL-3"];

impl Aal {
    pub fn parse(s: &str) -> Option<Aal> {
        match s {
            "NIST-AAL-1" => Some(Aal::One),
            "NIST-AAL-2" => Some(Aal::Two),
            "NIST-AAL-3" => Some(Aal::Three),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        ALL[self as usize - 1]
    }

    pub fn from_u8(n: u8) -> Option<Aal> {
        match n {
            1 => Some(Aal::One),
            2 => Some(Aal::Two),
            3 => Some(Aal::Three),
            _ => None,
        }
    }
}

/// The factors a sign-in used, so far (a step-up adds to them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Factors {
    pub pwd: bool,
    pub otp: bool,
    pub pop: bool,
    /// The passkey verified its user.
    pub uv: bool,
}

impl Factors {
    pub fn password() -> Factors {
        Factors { pwd: true, ..Factors::default() }
    }

    pub fn code() -> Factors {
        Factors { otp: true, ..Factors::default() }
    }

    pub fn passkey(user_verified: bool) -> Factors {
        Factors { pop: true, uv: user_verified, ..Factors::default() }
    }

    /// What a session recorded: its `amr`. `mfa` alone cannot tell a user-verified passkey
    /// from two factors, so a session records its level too (see [`Factors::level`]).
    pub fn from_amr(amr: &[String]) -> Factors {
        let has = |m: &str| amr.iter().any(|a| a == m);
        let (pwd, otp, pop) = (has("pwd"), has("otp"), has("pop"));
        // A passkey with `mfa` and no other factor can only be a user-verified one.
        Factors { pwd, otp, pop, uv: pop && has("mfa") && !pwd && !otp }
    }

    pub fn with(self, other: Factors) -> Factors {
        Factors { pwd: self.pwd || other.pwd, otp: self.otp || other.otp, pop: self.pop || other.pop, uv: self.uv || other.uv }
    }

    fn count(self) -> usize {
        [self.pwd, self.otp, self.pop, self.uv].iter().filter(|f| **f).count()
    }

    /// `amr`, in a fixed order: `pwd`, `otp`, `pop`, then `mfa` when two or more factors.
    pub fn amr(self) -> Vec<String> {
        let mut amr: Vec<String> = [(self.pwd, "pwd"), (self.otp, "otp"), (self.pop, "pop")].iter().filter(|(on, _)| *on).map(|(_, m)| m.to_string()).collect();
        if self.count() >= 2 {
            amr.push("mfa".into());
        }
        amr
    }

    /// The level these factors reach (`None`: no factor at all).
    pub fn level(self) -> Option<Aal> {
        if self.pop && self.uv {
            Some(Aal::Three)
        } else if self.count() >= 2 {
            Some(Aal::Two)
        } else if self.count() == 1 {
            Some(Aal::One)
        } else {
            None
        }
    }
}

/// The level an `acr` value asks for: the NIST levels, and Open Finance Brasil's (`loa2` one
/// factor, `loa3` two).
fn asked(value: &str) -> Option<Aal> {
    match value {
        "urn:brasil:openbanking:loa2" => Some(Aal::One),
        "urn:brasil:openbanking:loa3" => Some(Aal::Two),
        v => Aal::parse(v),
    }
}

/// The lowest level among `values` (the client accepts any of them), if any names one.
pub fn lowest_requested<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Aal> {
    values.into_iter().filter_map(asked).min()
}

/// The level an authorization needs: the workspace's floor, raised by what the request asked in
/// `acr_values` (or, when it asked nothing, by the client's `default_acr_values`). Values that
/// are not NIST levels are voluntary (OIDC Core 3.1.2.1) and ignored here.
pub fn required(workspace: Option<Aal>, requested: Option<Aal>) -> Option<Aal> {
    workspace.max(requested)
}

/// The request's level: from `acr_values` when the request has any, else the client's defaults.
pub fn requested(acr_values: Option<&str>, client_defaults: &[String]) -> Option<Aal> {
    match acr_values.filter(|v| !v.trim().is_empty()) {
        Some(v) => lowest_requested(v.split_whitespace()),
        None => lowest_requested(client_defaults.iter().map(String::as_str)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_amr_of_each_method_and_combination() {
        let cases = [
            (Factors::password(), vec!["pwd"], Aal::One),
            (Factors::code(), vec!["otp"], Aal::One),
            (Factors::passkey(false), vec!["pop"], Aal::One),
            (Factors::passkey(true), vec!["pop", "mfa"], Aal::Three),
            (Factors::password().with(Factors::code()), vec!["pwd", "otp", "mfa"], Aal::Two),
            (Factors::password().with(Factors::passkey(false)), vec!["pwd", "pop", "mfa"], Aal::Two),
            (Factors::password().with(Factors::passkey(true)), vec!["pwd", "pop", "mfa"], Aal::Three),
        ];
        for (f, amr, level) in cases {
            assert_eq!(f.amr(), amr, "{f:?}");
            assert_eq!(f.level(), Some(level), "{f:?}");
        }
        assert_eq!(Factors::default().level(), None);
    }

    #[test]
    fn amr_read_back_never_overstates() {
        let amr = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(Factors::from_amr(&amr(&["pop", "mfa"])).level(), Some(Aal::Three));
        // A password with a passkey: whether that passkey verified its user is not in amr.
        assert_eq!(Factors::from_amr(&amr(&["pwd", "pop", "mfa"])).level(), Some(Aal::Two));
        assert_eq!(Factors::from_amr(&amr(&["pwd"])).level(), Some(Aal::One));
        assert_eq!(Factors::from_amr(&amr(&["mfa"])).level(), None, "mfa alone names no factor");
        assert_eq!(Factors::from_amr(&amr(&["fed"])).level(), None);
    }

    #[test]
    fn required_level_takes_the_floor_and_the_request() {
        let defaults = vec!["NIST-AAL-2".to_string()];
        assert_eq!(requested(Some("urn:x NIST-AAL-3 NIST-AAL-2"), &[]), Some(Aal::Two), "the lowest listed: any satisfies the client");
        assert_eq!(requested(Some("urn:x"), &defaults), None, "the request's values replace the client's defaults");
        assert_eq!(requested(None, &defaults), Some(Aal::Two));
        assert_eq!(requested(Some(" "), &defaults), Some(Aal::Two));
        assert_eq!(requested(Some("urn:brasil:openbanking:loa3"), &[]), Some(Aal::Two), "Open Finance Brasil's loa3 is two factors");
        assert_eq!(required(Some(Aal::Two), Some(Aal::One)), Some(Aal::Two), "a request cannot lower the workspace's floor");
        assert_eq!(required(Some(Aal::One), Some(Aal::Three)), Some(Aal::Three));
        assert_eq!(required(None, None), None);
        assert_eq!(Aal::Two.as_str(), "NIST-AAL-2");
        assert_eq!(serde_json::to_string(&Aal::Three).unwrap(), "\"NIST-AAL-3\"");
    }
}
