//! A workspace's branding on its pages (`config::branding`): the router passes every page of a
//! workspace through [`apply`], so no page can forget it and no page function takes it. It adds
//! the colours (as CSS variables the pages' style reads), the administrator's stylesheet (a
//! separate file the page's CSP names, never inline), the logo and name at the top of the card and
//! the terms and privacy links at its foot, and widens the CSP by exactly those sources.

use crate::config::branding::{self, text_on, Branding, LOGO_TYPES};
use crate::error::OAuthError;
use crate::http::Response;
use crate::runtime::KvStore;
use base64::Engine as _;
use crate::web::pages::{self, escape, Locale};

/// Where a workspace serves its branding's files.
pub struct BrandUrls {
    /// `.../branding/logo`: the uploaded logo.
    pub logo: String,
    /// `.../branding.css`: the administrator's stylesheet.
    pub css: String,
}

/// Whether a response is one of our pages (the auto-submitting form post is not: it has no card).
pub fn is_page(resp: &Response) -> bool {
    resp.header("content-type").is_some_and(|c| c.starts_with("text/html")) && resp.body.windows(6).any(|w| w == b"<main>")
}

/// The page's language, as `pages::document` wrote it.
fn locale_of(body: &str) -> Locale {
    if body.starts_with("<!doctype html><html lang=\"pt-BR\"") {
        Locale::PtBr
    } else {
        Locale::En
    }
}

/// Whether `color` shows on the white card at 3:1 or more (enough for a focus ring, WCAG 1.4.11).
fn visible_on_white(color: &str) -> bool {
    // A colour that wants white text is dark enough to show on white at 3:1 or more (its contrast
    // with white is at least that with black, and the two multiply to at least 21).
    text_on(color) == "#ffffff"
}

/// The page with the workspace's branding. A workspace without branding gets the page unchanged.
pub fn apply(resp: Response, b: &Branding, urls: &BrandUrls) -> Response {
    if b.is_empty() || !is_page(&resp) {
        return resp;
    }
    let Ok(body) = String::from_utf8(resp.body.clone()) else { return resp };
    let t = |k| pages::text(locale_of(&body), k);
    let mut vars = String::new();
    if let Some(p) = &b.primary_color {
        vars.push_str(&format!("--primary:{p};--on-primary:{};", text_on(p)));
        if visible_on_white(p) {
            vars.push_str(&format!("--focus:{p};"));
        }
    }
    if let Some(bg) = &b.background_color {
        vars.push_str(&format!("--background:{bg};--on-background:{};", text_on(bg)));
    }
    // Colours are `#rrggbb` (checked on save): nothing here can end the style element.
    let mut head = if vars.is_empty() { String::new() } else { format!("<style>:root{{{vars}}}</style>") };
    if let Some(css) = &b.custom_css {
        // Versioned by its content, so a changed stylesheet is not read from a cache.
        let v: String = crate::crypto::sha256_b64url(css.as_bytes()).chars().take(16).collect();
        head.push_str(&format!("<link rel=\"stylesheet\" href=\"{}?v={v}\">", escape(&urls.css)));
    }
    let logo = match (&b.logo, &b.logo_uri) {
        (Some(up), _) => Some(format!("{}?v={}", urls.logo, up.version)),
        (None, Some(u)) => Some(u.clone()),
        (None, None) => None,
    };
    let mut header = String::new();
    if logo.is_some() || !b.display_name.is_empty() {
        // With a name beside it the logo is decoration (alt=""); alone, it is the name.
        let alt = if b.display_name.is_empty() { t("logo") } else { "" };
        let img = logo.as_ref().map(|l| format!("<img class=\"brand-logo\" src=\"{}\" alt=\"{alt}\">", escape(l))).unwrap_or_default();
        let name = if b.display_name.is_empty() { String::new() } else { format!("<span class=\"brand-name\">{}</span>", escape(&b.display_name)) };
        header = format!("<header class=\"brand\">{img}{name}</header>");
    }
    let links: Vec<String> = [(&b.terms_uri, "terms"), (&b.privacy_uri, "privacy")]
        .into_iter()
        .filter_map(|(u, k)| u.as_ref().map(|u| format!("<a href=\"{}\">{}</a>", escape(u), t(k))))
        .collect();
    let footer = if links.is_empty() { String::new() } else { format!("<footer class=\"brand-links\">{}</footer>", links.join(" · ")) };
    let body = body.replacen("</head>", &format!("{head}</head>"), 1).replacen("<main>", &format!("<main>{header}"), 1).replacen("</main>", &format!("{footer}</main>"), 1);
    let mut resp = resp.with_body(body.into_bytes());
    if b.custom_css.is_some() {
        resp = pages::allow_source(resp, "style-src", &urls.css);
    }
    match (&b.logo, &b.logo_uri) {
        (Some(_), _) => pages::allow_source(resp, "img-src", &urls.logo),
        (None, Some(u)) => pages::allow_image(resp, u),
        (None, None) => resp,
    }
}

/// the uploaded logo, as the pages link it (`GET /{t}/{w}/branding/logo`).
pub async fn serve_logo(kv: &impl KvStore, t: &str, w: &str) -> Result<Response, OAuthError> {
    let none = || OAuthError::not_found("this workspace has no logo");
    let stored: serde_json::Value = kv.get(&branding::logo_key(t, w)).await?.and_then(|s| serde_json::from_str(&s).ok()).ok_or_else(none)?;
    let content_type = stored["content_type"].as_str().filter(|ct| LOGO_TYPES.contains(ct)).ok_or_else(none)?;
    let bytes = stored["data"].as_str().and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok()).ok_or_else(none)?;
    Ok(Response::new(200)
        .with_header("content-type", content_type)
        .with_header("cache-control", "public, max-age=300")
        // Opened on its own it is an image and nothing else.
        .with_header("content-security-policy", "default-src 'none'; sandbox")
        .with_body(bytes))
}

/// the administrator's stylesheet (`GET /{t}/{w}/branding.css`).
pub fn serve_css(b: &Branding) -> Result<Response, OAuthError> {
    let css = b.custom_css.as_ref().ok_or_else(|| OAuthError::not_found("this workspace has no stylesheet"))?;
    Ok(Response::new(200).with_header("content-type", "text/css; charset=utf-8").with_header("cache-control", "public, max-age=300").with_body(css.clone().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::branding::UploadedLogo;

    fn urls() -> BrandUrls {
        BrandUrls { logo: "https://as.example/t/w/branding/logo".into(), css: "https://as.example/t/w/branding.css".into() }
    }

    fn page(locale: Locale) -> Response {
        pages::error_page(locale, 400, "invalid_request", "x")
    }

    #[test]
    fn a_workspace_without_branding_keeps_its_page() {
        let before = page(Locale::En);
        let after = apply(page(Locale::En), &Branding::default(), &urls());
        assert_eq!((&after.body, after.header("content-security-policy")), (&before.body, before.header("content-security-policy")));
    }

    #[test]
    fn branding_is_escaped_and_the_csp_widened_by_exactly_its_files() {
        let b = Branding {
            display_name: "<script>alert(1)</script>".into(),
            logo_uri: Some("https://cdn.example/a;script-src *".into()),
            primary_color: Some("#ffff00".into()),
            custom_css: Some("body{}".into()),
            terms_uri: Some("https://acme.example/t?a=\"><x".into()),
            ..Default::default()
        };
        let r = apply(page(Locale::PtBr), &b, &urls());
        let body = String::from_utf8(r.body.clone()).unwrap();
        assert!(!body.contains("<script>") && !body.contains("\"><x"), "{body}");
        assert!(body.contains("--primary:#ffff00;--on-primary:#000000;") && !body.contains("--focus:"), "{body}");
        assert!(body.contains("Termos de uso") && body.contains("<span class=\"brand-name\">&lt;script&gt;"));
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("style-src 'unsafe-inline' https://as.example/t/w/branding.css;"), "{csp}");
        // Only the logo's origin: its path could carry CSP syntax.
        assert!(csp.contains("img-src https://cdn.example;") && !csp.contains("script-src"), "{csp}");
    }

    #[test]
    fn an_uploaded_logo_wins_and_is_versioned() {
        let b = Branding { logo_uri: Some("https://cdn.example/l.png".into()), logo: Some(UploadedLogo { content_type: "image/png".into(), bytes: 10, version: "abc".into() }), ..Default::default() };
        let r = apply(page(Locale::En), &b, &urls());
        let body = String::from_utf8(r.body.clone()).unwrap();
        assert!(body.contains("src=\"https://as.example/t/w/branding/logo?v=abc\" alt=\"Logo\""), "{body}");
        assert!(r.header("content-security-policy").unwrap().contains("img-src https://as.example/t/w/branding/logo;"));
    }
}
