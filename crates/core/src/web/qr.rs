//! A QR code drawn as SVG on the server (the TOTP enrolment's `otpauth://` URI), so the account
//! page needs no script and no image request: one `<path>` of unit squares, with the quiet zone.

use qrcodegen::{QrCode, QrCodeEcc};

/// The SVG of `text` as a QR code (error correction M), or `None` when it is too long for one.
pub fn svg(text: &str, title: &str) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size() + border * 2;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"{px}\" height=\"{px}\" role=\"img\" aria-label=\"{label}\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>",
        px = size * 5,
        label = super::pages::escape(title),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_square_code_with_its_quiet_zone() {
        let s = svg("otpauth://totp/Acme:ada?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme", "Scan <me>").unwrap();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("viewBox=\"0 0 45 45\""), "version 5 (37 modules) with a 4-module border: {}", &s[..120]);
        assert!(s.contains("aria-label=\"Scan &lt;me&gt;\""));
        assert!(s.contains("M4,4h1v1h-1z"), "the finder pattern's corner");
        assert!(svg(&"x".repeat(8000), "too long").is_none());
    }
}
