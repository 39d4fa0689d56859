//! Mutual-TLS client certificates (RFC 8705): what the platform tells us about the certificate the
//! client presented, a minimal X.509 reader for PEM uploads and trusted headers (subject and issuer
//! DN, SHA-256 thumbprint; no signature or chain checks: the TLS terminator did those), and the
//! RFC 4514 distinguished-name comparison `tls_client_auth_subject_dn` needs.

use crate::crypto;
use crate::http::{percent_decode, ClientCertificate};
use base64::Engine;

/// The certificate of a PEM document (the first `CERTIFICATE` block), as DER.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + pem[start..].find("-----END CERTIFICATE-----")?;
    let b64: String = pem[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// One DER element: (tag, contents, the rest of the input).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 3 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize), &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = tlv(input)?;
    (t == tag).then_some((content, rest))
}

fn oid_string(der: &[u8]) -> Option<String> {
    let (&first, rest) = der.split_first()?;
    let mut parts = vec![(first / 40).min(2) as u64, first as u64 - 40 * (first / 40).min(2) as u64];
    let mut acc: u64 = 0;
    for &b in rest {
        acc = acc.checked_mul(128)? | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            parts.push(acc);
            acc = 0;
        }
    }
    Some(parts.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
}

/// Short names RFC 4514 §3 (and common practice) uses; other types are written as their OID.
const SHORT_NAMES: [(&str, &str); 12] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.15", "businessCategory"),
    ("1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC"),
];

/// Names accepted when parsing a DN string besides [`SHORT_NAMES`], mapped to their OID.
const EXTRA_NAMES: [(&str, &str); 3] = [("organizationidentifier", "2.5.4.97"), ("emailaddress", "1.2.840.113549.1.9.1"), ("jurisdictioncountryname", "1.3.6.1.4.1.311.60.2.1.3")];

fn escape_value(v: &str) -> String {
    let mut out = String::new();
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\') || (i == 0 && (c == '#' || c == ' ')) || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A DER `Name` as an RFC 4514 string (last RDN first).
fn name_string(der: &[u8]) -> Option<String> {
    let mut rdns = Vec::new();
    let mut rest = der;
    while !rest.is_empty() {
        let (set, r) = expect(rest, 0x31)?;
        rest = r;
        let mut attrs = Vec::new();
        let mut s = set;
        while !s.is_empty() {
            let (atv, r) = expect(s, 0x30)?;
            s = r;
            let (oid, r) = expect(atv, 0x06)?;
            let (vtag, value, _) = tlv(r)?;
            let oid = oid_string(oid)?;
            let name = SHORT_NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| n.to_string()).unwrap_or(oid);
            let value = match vtag {
                // UTF8String, PrintableString, T61String, IA5String, VisibleString
                0x0c | 0x13 | 0x14 | 0x16 | 0x1a => escape_value(std::str::from_utf8(value).ok()?),
                _ => {
                    let mut whole = vec![vtag];
                    whole.extend(encoded_len(value.len()));
                    whole.extend_from_slice(value);
                    format!("#{}", whole.iter().map(|b| format!("{b:02x}")).collect::<String>())
                }
            };
            attrs.push(format!("{name}={value}"));
        }
        rdns.push(attrs.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

fn encoded_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

/// What a certificate says about itself, read from its DER.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCertificate {
    /// base64url SHA-256 of the DER: the `x5t#S256` of RFC 8705 §3.1.
    pub x5t_s256: String,
    pub subject_dn: String,
    pub issuer_dn: String,
}

/// Reads subject and issuer from an X.509 certificate (RFC 5280 §4.1), without checking it.
pub fn parse_certificate(der: &[u8]) -> Option<ParsedCertificate> {
    let (cert, trailing) = expect(der, 0x30)?;
    if !trailing.is_empty() {
        return None;
    }
    let (tbs, _) = expect(cert, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2; // [0] version
    }
    let (_, rest) = expect(rest, 0x02)?; // serialNumber
    let (_, rest) = expect(rest, 0x30)?; // signature algorithm
    let (issuer, rest) = expect(rest, 0x30)?;
    let (_, rest) = expect(rest, 0x30)?; // validity
    let (subject, rest) = expect(rest, 0x30)?;
    expect(rest, 0x30)?; // subjectPublicKeyInfo
    Some(ParsedCertificate { x5t_s256: crypto::sha256_b64url(der), subject_dn: name_string(subject)?, issuer_dn: name_string(issuer)? })
}

/// Parses a PEM certificate.
pub fn parse_pem(pem: &str) -> Option<ParsedCertificate> {
    parse_certificate(&pem_to_der(pem)?)
}

/// A SHA-256 fingerprint as base64url: from hex (Cloudflare gives lower-case hex, others use
/// colons) or already base64url.
pub fn fingerprint_b64url(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let bytes: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0)).collect();
        return Some(crypto::b64url(bytes));
    }
    crypto::b64url_decode(s).filter(|b| b.len() == 32).map(|_| s.to_string())
}

/// The certificate a trusted front end forwarded in `header` (a URL-encoded PEM, as nginx's
/// `$ssl_client_escaped_cert` or Envoy's `x-forwarded-client-cert` `Cert=` value). Only a
/// deployment that strips the header from client requests may name one; unset, nothing is read.
pub fn from_trusted_header(headers: &[(String, String)], header: &str) -> Option<ClientCertificate> {
    let raw = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(header)).map(|(_, v)| v.as_str())?;
    let pem = if raw.contains('%') { percent_decode(&raw.replace('+', "%2B"))? } else { raw.to_string() };
    let parsed = parse_pem(&pem)?;
    Some(ClientCertificate { verified: true, sha256_fingerprint: parsed.x5t_s256, subject_dn: parsed.subject_dn, issuer_dn: parsed.issuer_dn })
}

/// The certificate as Cloudflare describes it (`request.cf.tlsClientAuth`: `certPresented` "1",
/// `certVerified` "SUCCESS", `certFingerprintSHA256` in hex, the RFC 2253 DNs). Workers never see
/// the DER, so the thumbprint is the hex fingerprint re-encoded as base64url.
pub fn from_platform_metadata(presented: &str, verified: &str, fingerprint_sha256: &str, subject_dn: &str, issuer_dn: &str) -> Option<ClientCertificate> {
    if presented != "1" {
        return None;
    }
    Some(ClientCertificate { verified: verified == "SUCCESS", sha256_fingerprint: fingerprint_b64url(fingerprint_sha256)?, subject_dn: subject_dn.to_string(), issuer_dn: issuer_dn.to_string() })
}

/// The certificate in Cloudflare's `request.cf.tlsClientAuth`, read through `field` (the string
/// value of one of its properties, `None` when absent or not a string). A missing field reads as
/// empty, so an incomplete object yields no certificate (or one no subject DN matches), never an error.
pub fn from_cloudflare_tls_client_auth(field: impl Fn(&str) -> Option<String>) -> Option<ClientCertificate> {
    let get = |name: &str| field(name).unwrap_or_default();
    from_platform_metadata(&get("certPresented"), &get("certVerified"), &get("certFingerprintSHA256"), &get("certSubjectDNRFC2253"), &get("certIssuerDNRFC2253"))
}

/// A DN as a sequence of RDNs, each a sorted set of (type as OID or lower-case name, value folded
/// for comparison), in the order the string lists them.
fn normalize_dn(s: &str) -> Option<Vec<Vec<(String, String)>>> {
    let mut rdns = Vec::new();
    let mut rdn = Vec::new();
    let mut current = String::new();
    let mut attr_type: Option<String> = None;
    let mut chars = s.chars().peekable();
    let finish_attr = |t: &mut Option<String>, v: &mut String, rdn: &mut Vec<(String, String)>| -> Option<()> {
        let ty = t.take()?;
        rdn.push((canonical_type(&ty), fold_value(v)));
        v.clear();
        Some(())
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let a = chars.next()?;
                if a.is_ascii_hexdigit() && chars.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                    let b = chars.next()?;
                    // Hex pairs may form a multi-byte UTF-8 character; decode byte-wise.
                    let byte = u8::from_str_radix(&format!("{a}{b}"), 16).ok()?;
                    current.push_str(&format!("\u{0}{byte:02x}"));
                } else {
                    current.push(a);
                }
            }
            '=' if attr_type.is_none() => {
                attr_type = Some(current.trim().to_string());
                current.clear();
            }
            '+' => finish_attr(&mut attr_type, &mut current, &mut rdn)?,
            ',' | ';' => {
                finish_attr(&mut attr_type, &mut current, &mut rdn)?;
                rdn.sort();
                rdns.push(std::mem::take(&mut rdn));
            }
            _ => current.push(c),
        }
    }
    if attr_type.is_some() {
        finish_attr(&mut attr_type, &mut current, &mut rdn)?;
    }
    if !current.trim().is_empty() {
        return None;
    }
    if !rdn.is_empty() {
        rdn.sort();
        rdns.push(rdn);
    }
    (!rdns.is_empty()).then_some(rdns)
}

/// Attribute types compare by OID: `CN`, `cn` and `2.5.4.3` (also `OID.2.5.4.3`) are one type.
fn canonical_type(t: &str) -> String {
    let t = t.trim();
    let t = t.strip_prefix("OID.").or_else(|| t.strip_prefix("oid.")).unwrap_or(t);
    if t.starts_with(|c: char| c.is_ascii_digit()) {
        return t.to_string();
    }
    let lower = t.to_ascii_lowercase();
    SHORT_NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(&lower))
        .map(|(o, _)| o.to_string())
        .or_else(|| EXTRA_NAMES.iter().find(|(n, _)| *n == lower).map(|(_, o)| o.to_string()))
        .unwrap_or(lower)
}

/// caseIgnoreMatch with insignificant spaces (RFC 4517 §4.2.3, simplified): trim, fold runs of
/// spaces, lower-case. Escaped hex bytes are decoded back to text first.
fn fold_value(v: &str) -> String {
    let mut bytes = Vec::new();
    let mut it = v.split('\u{0}');
    if let Some(first) = it.next() {
        bytes.extend_from_slice(first.as_bytes());
    }
    for part in it {
        if part.len() >= 2 {
            bytes.push(u8::from_str_radix(&part[..2], 16).unwrap_or(b'?'));
            bytes.extend_from_slice(&part.as_bytes()[2..]);
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whether two DN strings name the same subject: RFC 4514 form, attribute types by OID, values
/// case- and space-insensitive. The order of RDNs must match, read either way (OpenSSL's
/// "one-line" order lists them the other way round).
pub fn dn_equal(a: &str, b: &str) -> bool {
    match (normalize_dn(a), normalize_dn(b)) {
        (Some(x), Some(mut y)) => {
            if x == y {
                return true;
            }
            y.reverse();
            x == y
        }
        _ => false,
    }
}

/// A DN string that parses (for validating client metadata).
pub fn valid_dn(s: &str) -> bool {
    s.len() <= 1024 && normalize_dn(s).is_some()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A self-signed test certificate (openssl req -x509, EC P-256) whose subject is
    /// `2.5.4.97=OFBBR-123,CN=tpp-one,OU=software-one,O=Banco Teste,C=BR`.
    pub const TEST_PEM: &str = include_str!("../../tests/data/tpp-one.pem");

    #[test]
    fn reads_subject_issuer_and_thumbprint() {
        let c = parse_pem(TEST_PEM).expect("parses");
        assert!(c.subject_dn.contains("CN=tpp-one"), "{}", c.subject_dn);
        assert!(c.subject_dn.contains("2.5.4.97=OFBBR-123"), "{}", c.subject_dn);
        assert_eq!(c.subject_dn, "2.5.4.97=OFBBR-123,CN=tpp-one,OU=software-one,O=Banco Teste,C=BR");
        assert!(dn_equal(&c.subject_dn, "organizationIdentifier=OFBBR-123,CN=tpp-one,OU=software-one,O=Banco Teste,C=BR"));
        assert_eq!(c.subject_dn, c.issuer_dn);
        assert_eq!(c.x5t_s256, crypto::sha256_b64url(&pem_to_der(TEST_PEM).unwrap()));
        assert!(parse_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_none());
        assert!(parse_pem("not a pem").is_none());
        assert!(parse_certificate(&[0x30, 0x82, 0xff]).is_none());
    }

    #[test]
    fn dn_comparison_normalises_types_case_spaces_and_oids() {
        assert!(dn_equal("CN=tpp-one,O=Banco Teste,C=BR", "cn=TPP-ONE, o=banco  teste , c=br"));
        assert!(dn_equal("organizationIdentifier=OFBBR-1,CN=x", "2.5.4.97=ofbbr-1,CN=x"));
        assert!(dn_equal("OID.2.5.4.97=OFBBR-1,CN=x", "2.5.4.97=OFBBR-1,CN=x"));
        assert!(dn_equal("CN=x,O=y", "O=y,CN=x"), "reversed order is accepted");
        assert!(dn_equal("CN=a+UID=1,O=y", "UID=1+cn=A,O=y"));
        assert!(dn_equal("CN=Jo\\2C Inc,O=y", "CN=Jo\\, Inc,O=y"));
        assert!(!dn_equal("CN=tpp-one,O=Banco Teste,C=BR", "CN=tpp-two,O=Banco Teste,C=BR"));
        assert!(!dn_equal("CN=x,O=y", "CN=x,O=y,C=BR"));
        assert!(!dn_equal("CN=x,O=y,C=BR", "O=y,C=BR,CN=x"));
        assert!(!dn_equal("garbage", "garbage"));
        assert!(valid_dn("CN=x") && !valid_dn("CN") && !valid_dn(""));
    }

    #[test]
    fn fingerprints_become_base64url() {
        let hex = "a".repeat(64);
        let b = fingerprint_b64url(&hex).unwrap();
        assert_eq!(crypto::b64url_decode(&b).unwrap(), vec![0xaa; 32]);
        let colons: Vec<String> = (0..32).map(|_| "AA".to_string()).collect();
        assert_eq!(fingerprint_b64url(&colons.join(":")).unwrap(), b);
        assert_eq!(fingerprint_b64url(&b).unwrap(), b);
        assert!(fingerprint_b64url("xyz").is_none());
    }

    #[test]
    fn cloudflare_metadata_maps_to_a_certificate() {
        let hex = "0123456789abcdef".repeat(4);
        let c = from_platform_metadata("1", "SUCCESS", &hex, "CN=tpp-one,O=Banco Teste,C=BR", "CN=CA").unwrap();
        assert!(c.verified && c.subject_dn == "CN=tpp-one,O=Banco Teste,C=BR" && c.issuer_dn == "CN=CA");
        assert_eq!(crypto::b64url_decode(&c.sha256_fingerprint).unwrap()[..2], [0x01, 0x23]);
        assert!(!from_platform_metadata("1", "FAILED:self signed certificate", &hex, "CN=x", "CN=x").unwrap().verified);
        assert!(from_platform_metadata("0", "NONE", "", "", "").is_none());
        assert!(from_platform_metadata("1", "SUCCESS", "not-hex", "CN=x", "CN=x").is_none());
    }

    #[test]
    fn cloudflare_tls_client_auth_fields_by_name_and_incomplete_objects() {
        let hex = "1d5b30a17229e83097fdf277a9709c78329e5cac6e0d8078bf92e7d6a8e1c074";
        let dn = "organizationIdentifier=OFBBR-123,CN=tpp-one,OU=software-one,O=Banco Teste,C=BR";
        let full = [("certPresented", "1"), ("certVerified", "SUCCESS"), ("certFingerprintSHA256", hex), ("certSubjectDNRFC2253", dn), ("certIssuerDNRFC2253", "CN=CA"), ("certSubjectDN", "CN=wrong")];
        let read = |fields: &[(&str, &str)]| {
            let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            from_cloudflare_tls_client_auth(move |name| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        };
        let c = read(&full).unwrap();
        assert!(c.verified && c.subject_dn == dn && c.issuer_dn == "CN=CA");
        assert_eq!(c.sha256_fingerprint, crypto::sha256_b64url(&pem_to_der(TEST_PEM).unwrap()), "the hex fingerprint of tpp-one.pem");
        let upper = hex.to_ascii_uppercase();
        assert_eq!(read(&[full[0], full[1], ("certFingerprintSHA256", &upper), full[3]]).unwrap().sha256_fingerprint, c.sha256_fingerprint);
        // Fields missing: no certificate, or one that is not verified or names no subject.
        assert!(read(&[]).is_none());
        assert!(read(&[full[0], full[1], full[3]]).is_none(), "no fingerprint");
        let no_dn = read(&[full[0], full[1], full[2]]).unwrap();
        assert!(no_dn.subject_dn.is_empty() && !dn_equal(&no_dn.subject_dn, dn));
        assert!(!read(&[full[0], full[2], full[3]]).unwrap().verified, "no certVerified");
        assert!(read(&[("certPresented", "0"), full[1], full[2], full[3]]).is_none());
    }

    #[test]
    fn trusted_header_takes_a_url_encoded_pem() {
        let enc = crate::http::percent_encode(TEST_PEM);
        let c = from_trusted_header(&[("x-client-cert".into(), enc)], "x-client-cert").unwrap();
        assert!(c.verified && c.subject_dn.contains("CN=tpp-one"));
        assert!(from_trusted_header(&[("x-client-cert".into(), "junk".into())], "x-client-cert").is_none());
        assert!(from_trusted_header(&[], "x-client-cert").is_none());
    }
}
