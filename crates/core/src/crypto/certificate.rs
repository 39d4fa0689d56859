//! Mutual-TLS client certificates (RFC 8705): what the platform tells us about the certificate the
//! client presented, X.509 reading for PEM uploads and trusted headers (subject and issuer DN,
//! SHA-256 thumbprint; no signature or chain checks: the TLS terminator did those), and the
//! RFC 4514 distinguished-name comparison `tls_client_auth_subject_dn` needs. The DER itself is
//! untrusted input, so the `x509-cert` crate decodes it (strict DER); only the RFC 4514 rendering
//! of the names is ours.

use crate::crypto;
use crate::http::{percent_decode, ClientCertificate};
use base64::Engine;
use x509_cert::der::{asn1::Any, Decode, Encode, Tag, Tagged};
use x509_cert::{name::Name, Certificate};

/// The certificate of a PEM document (the first `CERTIFICATE` block), as DER.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + pem[start..].find("-----END CERTIFICATE-----")?;
    let b64: String = pem[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
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
        if c == '\0' {
            // RFC 4514 §2.4: NUL is always escaped (and `normalize_dn` refuses a raw one).
            out.push_str("\\00");
            continue;
        }
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\') || (i == 0 && (c == '#' || c == ' ')) || (i + 1 == n && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An attribute value as RFC 4514 §2.4 writes it: directory strings as (escaped) text, any other
/// type as `#` and the hex of its whole DER encoding (re-encoding gives back the very bytes read,
/// since strict DER has one encoding per value).
fn value_string(value: &Any) -> Option<String> {
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::TeletexString | Tag::Ia5String | Tag::VisibleString => Some(escape_value(std::str::from_utf8(value.value()).ok()?)),
        _ => Some(format!("#{}", value.to_der().ok()?.iter().map(|b| format!("{b:02x}")).collect::<String>())),
    }
}

/// A `Name` as an RFC 4514 string (last RDN first); attributes within an RDN in DER (SET OF) order.
fn name_string(name: &Name) -> Option<String> {
    let mut rdns = Vec::new();
    for rdn in name.0.iter().rev() {
        let mut attrs = Vec::new();
        for atv in rdn.0.iter() {
            let oid = atv.oid.to_string();
            let ty = SHORT_NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| n.to_string()).unwrap_or(oid);
            attrs.push(format!("{ty}={}", value_string(&atv.value)?));
        }
        rdns.push(attrs.join("+"));
    }
    Some(rdns.join(","))
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
/// Anything but one whole DER certificate (trailing bytes included) reads as `None`.
pub fn parse_certificate(der: &[u8]) -> Option<ParsedCertificate> {
    let tbs = Certificate::from_der(der).ok()?.tbs_certificate;
    Some(ParsedCertificate { x5t_s256: crypto::sha256_b64url(der), subject_dn: name_string(&tbs.subject)?, issuer_dn: name_string(&tbs.issuer)? })
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
    // NUL marks a decoded hex escape below (`fold_value` reads the two hex digits after it), and
    // RFC 4514 §2.4 has NUL escaped anyway: a raw one is no DN.
    if s.contains('\0') {
        return None;
    }
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

    /// A DER element built by hand (not by the crate under test): the long length form when the
    /// contents need it (X.690 §8.1.3.5: 0x80 | the count of length bytes, then the length).
    fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
        let n = contents.len();
        let mut out = vec![tag];
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let len: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
            out.push(0x80 | len.len() as u8);
            out.extend(len);
        }
        out.extend_from_slice(contents);
        out
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03]; // 2.5.4.3

    /// One single-valued RDN: SET { SEQUENCE { type, value } }, `value` already encoded.
    fn rdn(oid: &[u8], value: &[u8]) -> Vec<u8> {
        der(0x31, &der(0x30, &[der(0x06, oid), value.to_vec()].concat()))
    }

    /// A v3 certificate issued by `CN=CA` to `subject` (an encoded Name). The key and signature
    /// are placeholders: nothing here checks them.
    fn certificate(subject: &[u8]) -> Vec<u8> {
        let ecdsa_sha256 = der(0x30, &der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
        let spki_alg = der(0x30, &[der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]), der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])].concat());
        let tbs = [
            der(0xa0, &der(0x02, &[2])),
            der(0x02, &[1]),
            ecdsa_sha256.clone(),
            der(0x30, &rdn(CN, &der(0x0c, b"CA"))),
            der(0x30, &[der(0x17, b"250101000000Z"), der(0x17, b"350101000000Z")].concat()),
            subject.to_vec(),
            der(0x30, &[spki_alg, der(0x03, &[0, 4, 1, 2])].concat()),
        ];
        der(0x30, &[der(0x30, &tbs.concat()), ecdsa_sha256, der(0x03, &[0, 0x30, 0])].concat())
    }

    #[test]
    fn long_form_lengths_of_64_kib_and_more_are_read_exactly() {
        let small = certificate(&der(0x30, &rdn(CN, &der(0x0c, b"x"))));
        assert_eq!(parse_certificate(&small).map(|c| c.subject_dn).as_deref(), Some("CN=x"), "the hand-built certificate parses");

        // A CN of exactly 65536 bytes (length 0x83 01 00 00) and a non-string value of 70000
        // bytes, written back as `#` and the hex of its encoding (length 0x83 01 11 70).
        let cn = der(0x0c, "x".repeat(65_536).as_bytes());
        assert_eq!(cn[..5], [0x0c, 0x83, 0x01, 0x00, 0x00]);
        let octets = der(0x04, &[0xab; 70_000]);
        assert_eq!(octets[..5], [0x04, 0x83, 0x01, 0x11, 0x70]);
        let cert = certificate(&der(0x30, &[rdn(CN, &cn), rdn(&[0x2a, 0x03, 0x04], &octets)].concat()));
        assert_eq!(cert[..2], [0x30, 0x83], "the certificate's own length is long-form too");
        let c = parse_certificate(&cert).expect("parses");
        assert_eq!(c.subject_dn, format!("1.2.3.4=#0483011170{},CN={}", "ab".repeat(70_000), "x".repeat(65_536)));
        assert_eq!(c.issuer_dn, "CN=CA");
        assert_eq!(c.x5t_s256, crypto::sha256_b64url(&cert));

        // Lengths that do not match the bytes are refused, never read as something else.
        assert!(parse_certificate(&cert[..cert.len() - 1]).is_none(), "one byte short");
        assert!(parse_certificate(&[cert.as_slice(), &[0]].concat()).is_none(), "a trailing byte");
        let mut longer = cert.clone();
        longer[2] = 0xff; // claims ~16 MiB
        assert!(parse_certificate(&longer).is_none());
        // Not DER: a length in more bytes than it needs (0x82 00 xx), an indefinite length, and
        // 4- and 5-byte lengths with no contents.
        let body = &small[2..];
        assert!(parse_certificate(&[&[0x30, 0x82, 0x00, small[1]], body].concat()).is_none());
        assert!(parse_certificate(&[&[0x30, 0x80], body, &[0, 0]].concat()).is_none());
        assert!(parse_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(parse_certificate(&[0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00]).is_none());
    }

    #[test]
    fn truncated_or_garbage_der_is_none() {
        let der = pem_to_der(TEST_PEM).unwrap();
        assert!(parse_certificate(&der).is_some());
        for n in 0..der.len() {
            assert!(parse_certificate(&der[..n]).is_none(), "truncated to {n} bytes");
        }
        // Every byte changed, three ways: whatever comes back, nothing panics.
        for i in 0..der.len() {
            for v in [0x00, 0xff, der[i] ^ 0x80] {
                let mut m = der.clone();
                m[i] = v;
                let _ = parse_certificate(&m);
            }
        }
        // Pseudo-random bytes (xorshift), bare and behind a SEQUENCE header.
        let mut x: u32 = 0x9e37_79b9;
        for len in [1, 2, 3, 16, 100, 1000] {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            assert!(parse_certificate(&junk).is_none());
            assert!(parse_certificate(&[&[0x30, 0x82, (len >> 8) as u8, len as u8], junk.as_slice()].concat()).is_none());
        }
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
    fn a_raw_nul_is_no_dn_and_an_escaped_one_compares() {
        // Found by fuzzing (fuzz/seeds/dn/crash-raw-nul): a raw NUL, which marks decoded hex
        // escapes inside `normalize_dn`, followed by a multi-byte character made `fold_value`
        // slice inside that character and panic.
        assert!(!dn_equal("CN=\0x\u{2bc}", "CN=\0x\u{2bc}"));
        assert!(!valid_dn("CN=Jo\\2C Inc+UID=1,=Jo\0\0\u{2bc}") && !valid_dn("CN=\\\0"));
        assert!(!dn_equal("CN=\u{0}41", "CN=A"), "a raw NUL does not pass for an escape");
        assert!(dn_equal("CN=a\\00b", "cn=A\\00B"));
        // A certificate's NUL is written escaped, so its subject stays a DN that compares.
        assert_eq!(escape_value("a\0b"), "a\\00b");
        let c = parse_certificate(&certificate(&der(0x30, &rdn(CN, &der(0x0c, b"a\0b"))))).expect("parses");
        assert_eq!(c.subject_dn, "CN=a\\00b");
        assert!(valid_dn(&c.subject_dn) && dn_equal(&c.subject_dn, "CN=A\\00B"));
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

