//! A workspace's branding: the name, logo, colours, stylesheet and links its pages show
//! (`web::brand` puts them on every page). One KV document per workspace (`branding/{t}/{w}`),
//! apart from the configuration every request reads: only the pages read it. An uploaded logo's
//! bytes are a second document (`branding/{t}/{w}/logo`), read only when the logo is fetched, so a
//! page render never carries them.
//!
//! Everything is checked on save: colours are `#rgb`/`#rrggbb`, URLs are https (plain http only to
//! loopback, for local development), the name and the stylesheet are bounded, and an uploaded logo
//! is a PNG, JPEG, GIF or WebP whose bytes say so (no SVG: it can carry script). The text colour of
//! buttons is chosen here, black or white, whichever keeps WCAG's 4.5:1 contrast with the primary
//! colour, so no colour an administrator picks makes the buttons unreadable.

use crate::error::OAuthError;
use crate::runtime::{KvStore, StoreError};
use crate::urls;
use serde::{Deserialize, Serialize};

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_CSS_BYTES: usize = 16 * 1024;
/// An uploaded logo, at most this many bytes (the request limit is 64 KB).
pub const MAX_LOGO_BYTES: usize = 48 * 1024;
pub const LOGO_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

pub fn key(tenant: &str, workspace: &str) -> String {
    format!("branding/{tenant}/{workspace}")
}

pub fn logo_key(tenant: &str, workspace: &str) -> String {
    format!("branding/{tenant}/{workspace}/logo")
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Branding {
    /// The organisation's name, shown at the top of every page.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    /// A logo at an https URL (an uploaded logo, when there is one, is shown instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Buttons and focus rings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// The page around the card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background_color: Option<String>,
    /// A stylesheet served at `/{t}/{w}/branding.css` and linked from every page (the pages'
    /// CSP lets it load nothing else: no fonts, no images but the logos, no imports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_css: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_uri: Option<String>,
    /// Set by the server when a logo is uploaded (`PUT .../branding/logo`), never by the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo: Option<UploadedLogo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadedLogo {
    pub content_type: String,
    pub bytes: usize,
    /// The first 16 characters of the image's SHA-256 (base64url): the version in its URL.
    pub version: String,
}

fn invalid(field: &str, why: &str) -> OAuthError {
    OAuthError::invalid_configuration(field, why)
}

/// `#rgb` or `#rrggbb`, as `#rrggbb` in lower case.
pub fn parse_color(s: &str) -> Option<String> {
    let hex = s.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        6 => Some(format!("#{}", hex.to_ascii_lowercase())),
        3 => Some(hex.chars().flat_map(|c| [c, c]).fold(String::from("#"), |mut s, c| {
            s.push(c.to_ascii_lowercase());
            s
        })),
        _ => None,
    }
}

/// WCAG 2's relative luminance of a `#rrggbb` colour.
fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap_or(0)) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}

/// The text colour for a `#rrggbb` background: white or black, whichever contrasts more (one of
/// them always reaches 4.5:1).
pub fn text_on(background: &str) -> &'static str {
    let l = luminance(background);
    if 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 {
        "#ffffff"
    } else {
        "#000000"
    }
}

/// What an uploaded logo's first bytes must be for its content type.
pub fn logo_matches(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        _ => false,
    }
}

impl Branding {
    /// Checks every member and normalises the colours; `logo` is the server's and is kept apart.
    pub fn validate(&mut self) -> Result<(), OAuthError> {
        if self.display_name.chars().count() > MAX_NAME_CHARS || self.display_name.chars().any(char::is_control) {
            return Err(invalid("display_name", "must be at most 100 characters, without control characters"));
        }
        self.display_name = self.display_name.trim().to_string();
        for (field, value) in [("primary_color", &mut self.primary_color), ("background_color", &mut self.background_color)] {
            if let Some(c) = value {
                *c = parse_color(c).ok_or_else(|| invalid(field, "must be a colour as #rgb or #rrggbb"))?;
            }
        }
        for (field, value) in [("logo_uri", &self.logo_uri), ("terms_uri", &self.terms_uri), ("privacy_uri", &self.privacy_uri)] {
            if let Some(u) = value {
                if u.len() > 2000 || urls::web_url(u).is_err() {
                    return Err(invalid(field, "must be an https URL (plain http only to loopback) without userinfo or fragment, at most 2000 characters"));
                }
            }
        }
        if let Some(css) = &self.custom_css {
            if css.len() > MAX_CSS_BYTES {
                return Err(invalid("custom_css", "must be at most 16 KB"));
            }
        }
        Ok(())
    }

    /// Whether the pages have anything to show of it.
    pub fn is_empty(&self) -> bool {
        *self == Branding::default()
    }
}

pub async fn load(kv: &impl KvStore, tenant: &str, workspace: &str) -> Result<Branding, StoreError> {
    match kv.get(&key(tenant, workspace)).await? {
        None => Ok(Branding::default()),
        Some(s) => serde_json::from_str(&s).map_err(|e| StoreError::new(format!("stored branding of {tenant}/{workspace} is invalid: {e}"))),
    }
}

pub async fn save(kv: &impl KvStore, tenant: &str, workspace: &str, branding: &Branding) -> Result<(), StoreError> {
    if branding.is_empty() {
        return kv.delete(&key(tenant, workspace)).await;
    }
    let json = serde_json::to_string(branding).map_err(|e| StoreError::new(e.to_string()))?;
    kv.put(&key(tenant, workspace), &json).await
}

/// Both documents, for a workspace that is deleted.
pub async fn remove(kv: &impl KvStore, tenant: &str, workspace: &str) -> Result<(), StoreError> {
    kv.delete(&key(tenant, workspace)).await?;
    kv.delete(&logo_key(tenant, workspace)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_normalised_or_refused() {
        assert_eq!(parse_color("#ABC").as_deref(), Some("#aabbcc"));
        assert_eq!(parse_color("#1F6FEB").as_deref(), Some("#1f6feb"));
        for bad in ["1f6feb", "#12345", "#ggg", "red", "#1f6feb;}body{x:y", ""] {
            assert_eq!(parse_color(bad), None, "{bad}");
        }
    }

    #[test]
    fn button_text_keeps_its_contrast() {
        assert_eq!(text_on("#1f6feb"), "#ffffff");
        assert_eq!(text_on("#ffff00"), "#000000");
        assert_eq!(text_on("#000000"), "#ffffff");
        assert_eq!(text_on("#ffffff"), "#000000");
        // Whatever the colour, the chosen text reaches WCAG AA's 4.5:1.
        for c in ["#777777", "#808080", "#ff0000", "#00ff00", "#0000ff", "#767676", "#959595"] {
            let (l, t) = (luminance(c), luminance(text_on(c)));
            let ratio = (l.max(t) + 0.05) / (l.min(t) + 0.05);
            assert!(ratio >= 4.5, "{c}: {ratio}");
        }
    }

    #[test]
    fn saves_are_checked() {
        let ok = |b: Branding| {
            let mut b = b;
            b.validate().map(|_| b)
        };
        let b = ok(Branding { display_name: " Acme Bank ".into(), primary_color: Some("#0A0".into()), terms_uri: Some("https://acme.example/terms".into()), ..Default::default() }).unwrap();
        assert_eq!((b.display_name.as_str(), b.primary_color.as_deref()), ("Acme Bank", Some("#00aa00")));
        let field = |b: Branding| ok(b).unwrap_err().field().map(str::to_string);
        assert_eq!(field(Branding { logo_uri: Some("javascript:alert(1)".into()), ..Default::default() }).as_deref(), Some("logo_uri"));
        assert_eq!(field(Branding { privacy_uri: Some("http://acme.example/p".into()), ..Default::default() }).as_deref(), Some("privacy_uri"));
        assert_eq!(field(Branding { background_color: Some("url(x)".into()), ..Default::default() }).as_deref(), Some("background_color"));
        assert_eq!(field(Branding { display_name: "x".repeat(101), ..Default::default() }).as_deref(), Some("display_name"));
        assert_eq!(field(Branding { custom_css: Some("a".repeat(MAX_CSS_BYTES + 1)), ..Default::default() }).as_deref(), Some("custom_css"));
    }

    #[test]
    fn a_logo_is_what_its_bytes_say() {
        assert!(logo_matches("image/png", b"\x89PNG\r\n\x1a\n...."));
        assert!(logo_matches("image/webp", b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(!logo_matches("image/png", b"<svg onload=alert(1)>"));
        assert!(!logo_matches("image/svg+xml", b"<svg/>"));
        assert!(!logo_matches("image/gif", b"\x89PNG\r\n\x1a\n"));
    }
}
