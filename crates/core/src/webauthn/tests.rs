//! Fixed vectors: a P-256 authenticator key from a fixed scalar (RFC 6979 signatures are
//! deterministic, so every byte below is the same on every run), a hand-written CBOR encoder.

use super::*;
use crate::crypto::test_support::TestEntropy;
use crate::jose::PureRustSigner;
use p256::ecdsa::signature::Signer as _;
use std::future::Future;
use std::task::{Context, Poll, Waker};

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("test future unexpectedly pending"),
    }
}

// --- a minimal CBOR encoder (the authenticator's side) ---
fn head(major: u8, n: u64) -> Vec<u8> {
    match n {
        0..=23 => vec![(major << 5) | n as u8],
        24..=0xff => vec![(major << 5) | 24, n as u8],
        0x100..=0xffff => [vec![(major << 5) | 25], (n as u16).to_be_bytes().to_vec()].concat(),
        _ => [vec![(major << 5) | 26], (n as u32).to_be_bytes().to_vec()].concat(),
    }
}
fn int(i: i64) -> Vec<u8> {
    if i >= 0 { head(0, i as u64) } else { head(1, (-1 - i) as u64) }
}
fn bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len() as u64), b.to_vec()].concat()
}
fn text(s: &str) -> Vec<u8> {
    [head(3, s.len() as u64), s.as_bytes().to_vec()].concat()
}
fn map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = head(5, entries.len() as u64);
    for (k, v) in entries {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out
}

const RP_ID: &str = "login.example.com";
const ORIGIN: &str = "https://login.example.com";
const CHALLENGE: &[u8] = b"0123456789abcdef0123456789abcdef";
const CRED_ID: &[u8] = &[0xc7; 32];
const AAGUID: [u8; 16] = [0xad, 0xce, 0x00, 0x02, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, 0x03];

fn key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap()
}

fn cose_key() -> Vec<u8> {
    let point = key().verifying_key().to_encoded_point(false);
    map(&[(int(1), int(2)), (int(3), int(-7)), (int(-1), int(1)), (int(-2), bytes(point.x().unwrap())), (int(-3), bytes(point.y().unwrap()))])
}

fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
    format!(r#"{{"type":"{kind}","challenge":"{}","origin":"{origin}","crossOrigin":false}}"#, b64url(challenge)).into_bytes()
}

fn auth_data(rp_id: &str, flags: u8, count: u32, attested: bool) -> Vec<u8> {
    let mut d = sha256(rp_id.as_bytes()).to_vec();
    d.push(flags | if attested { FLAG_AT } else { 0 });
    d.extend_from_slice(&count.to_be_bytes());
    if attested {
        d.extend_from_slice(&AAGUID);
        d.extend_from_slice(&(CRED_ID.len() as u16).to_be_bytes());
        d.extend_from_slice(CRED_ID);
        d.extend_from_slice(&cose_key());
    }
    d
}

fn attestation(auth: &[u8]) -> Vec<u8> {
    map(&[(text("fmt"), text("none")), (text("attStmt"), map(&[])), (text("authData"), bytes(auth))])
}

fn exp(require_uv: bool) -> Expected<'static> {
    Expected { challenge: CHALLENGE, origin: ORIGIN, rp_id: RP_ID, require_uv }
}

fn registered() -> NewCredential {
    check_registration(&client_data("webauthn.create", CHALLENGE, ORIGIN), &attestation(&auth_data(RP_ID, FLAG_UP | FLAG_UV, 0, true)), &exp(true)).unwrap()
}

#[test]
fn a_none_attestation_registers_its_key_as_a_jwk() {
    let c = registered();
    assert_eq!(c.id, CRED_ID);
    assert_eq!(c.alg, Alg::ES256);
    assert_eq!(c.aaguid, "adce0002-35bc-c60a-648b-0b25f1f05503");
    assert_eq!(c.sign_count, 0);
    assert!(c.user_verified && !c.backup_eligible);
    let point = key().verifying_key().to_encoded_point(false);
    assert_eq!(c.public_jwk, json!({"kty": "EC", "crv": "P-256", "x": b64url(point.x().unwrap()), "y": b64url(point.y().unwrap())}));
}

#[test]
fn another_formats_statement_is_ignored_and_its_aaguid_kept() {
    let auth = auth_data(RP_ID, FLAG_UP, 0, true);
    let packed = map(&[(text("fmt"), text("packed")), (text("attStmt"), map(&[(text("alg"), int(-7)), (text("sig"), bytes(&[1, 2, 3]))])), (text("authData"), bytes(&auth))]);
    let c = check_registration(&client_data("webauthn.create", CHALLENGE, ORIGIN), &packed, &exp(false)).unwrap();
    assert_eq!(c.aaguid, "adce0002-35bc-c60a-648b-0b25f1f05503");
}

#[test]
fn registration_refusals() {
    let good_cd = client_data("webauthn.create", CHALLENGE, ORIGIN);
    let good_att = attestation(&auth_data(RP_ID, FLAG_UP, 0, true));
    let reg = |cd: &[u8], att: &[u8], uv| check_registration(cd, att, &exp(uv)).unwrap_err();
    assert_eq!(reg(&client_data("webauthn.get", CHALLENGE, ORIGIN), &good_att, false), WebauthnError::WrongType("webauthn.get".into()));
    assert_eq!(reg(&client_data("webauthn.create", b"another challenge", ORIGIN), &good_att, false), WebauthnError::WrongChallenge);
    assert_eq!(reg(&client_data("webauthn.create", CHALLENGE, "https://evil.example"), &good_att, false), WebauthnError::WrongOrigin("https://evil.example".into()));
    assert_eq!(reg(&good_cd, &attestation(&auth_data("example.com", FLAG_UP, 0, true)), false), WebauthnError::WrongRpId);
    assert_eq!(reg(&good_cd, &attestation(&auth_data(RP_ID, 0, 0, true)), false), WebauthnError::UserNotPresent);
    assert_eq!(reg(&good_cd, &good_att, true), WebauthnError::UserNotVerified);
    assert!(matches!(reg(&good_cd, &attestation(&auth_data(RP_ID, FLAG_UP, 0, false)), false), WebauthnError::Malformed(_)));
    assert!(matches!(reg(b"{not json", &good_att, false), WebauthnError::Malformed(_)));
    assert!(matches!(reg(&good_cd, &[0xa1, 0x63], false), WebauthnError::Malformed(_)));
    assert!(matches!(reg(&good_cd, &good_att[..good_att.len() - 3], false), WebauthnError::Malformed(_)));
    let framed = br#"{"type":"webauthn.create","challenge":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","origin":"https://login.example.com","crossOrigin":true}"#;
    assert_eq!(reg(framed, &good_att, false), WebauthnError::CrossOrigin);
}

#[test]
fn cose_keys_other_than_es256_and_rs256_are_refused() {
    let point = key().verifying_key().to_encoded_point(false);
    let es384 = map(&[(int(1), int(2)), (int(3), int(-35)), (int(-1), int(2)), (int(-2), bytes(point.x().unwrap())), (int(-3), bytes(point.y().unwrap()))]);
    assert_eq!(cose_to_jwk(&cbor::decode(&es384).unwrap()).unwrap_err(), WebauthnError::UnsupportedAlgorithm(-35));
    let off_curve = map(&[(int(1), int(2)), (int(3), int(-7)), (int(-1), int(1)), (int(-2), bytes(&[1; 32])), (int(-3), bytes(&[2; 32]))]);
    assert!(matches!(cose_to_jwk(&cbor::decode(&off_curve).unwrap()), Err(WebauthnError::BadKey(_))));
    let small_rsa = map(&[(int(1), int(3)), (int(3), int(-257)), (int(-1), bytes(&[0xc5; 128])), (int(-2), bytes(&[1, 0, 1]))]);
    assert!(matches!(cose_to_jwk(&cbor::decode(&small_rsa).unwrap()), Err(WebauthnError::BadKey(_))));
}

fn assertion(flags: u8, count: u32, origin: &str, rp_id: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let cd = client_data("webauthn.get", CHALLENGE, origin);
    let ad = auth_data(rp_id, flags, count, false);
    let sig: p256::ecdsa::Signature = key().sign(&[ad.clone(), sha256(&cd).to_vec()].concat());
    (cd, ad, sig.to_der().as_bytes().to_vec())
}

#[test]
fn an_assertion_verifies_with_the_registered_key_and_its_der_signature() {
    let c = registered();
    let (cd, ad, sig) = assertion(FLAG_UP | FLAG_UV, 5, ORIGIN, RP_ID);
    let a = check_assertion(&cd, &ad, &exp(true)).unwrap();
    assert_eq!((a.sign_count, a.user_verified), (5, true));
    let signer = PureRustSigner::new(TestEntropy::new(1));
    assert_eq!(block_on(verify_signature(&signer, c.alg, &c.public_jwk, &a.signed, &sig)), Ok(Ok(())));
    // the raw r || s form, a flipped bit and another message all fail as a bad signature
    let raw = p256::ecdsa::Signature::from_der(&sig).unwrap().to_bytes();
    assert_eq!(block_on(verify_signature(&signer, c.alg, &c.public_jwk, &a.signed, &raw)), Ok(Err(WebauthnError::BadSignature)));
    let mut flipped = sig.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(block_on(verify_signature(&signer, c.alg, &c.public_jwk, &a.signed, &flipped)), Ok(Err(WebauthnError::BadSignature)));
    assert_eq!(block_on(verify_signature(&signer, c.alg, &c.public_jwk, b"other", &sig)), Ok(Err(WebauthnError::BadSignature)));
}

#[test]
fn rs256_keys_verify_through_the_signer() {
    let k = crate::jose::generate_key(Alg::RS256, &TestEntropy::new(2)).unwrap();
    let (n, e) = (crate::crypto::b64url_decode(k.public_jwk["n"].as_str().unwrap()).unwrap(), crate::crypto::b64url_decode(k.public_jwk["e"].as_str().unwrap()).unwrap());
    let cose = map(&[(int(1), int(3)), (int(3), int(-257)), (int(-1), bytes(&n)), (int(-2), bytes(&e))]);
    let (alg, jwk) = cose_to_jwk(&cbor::decode(&cose).unwrap()).unwrap();
    assert_eq!(alg, Alg::RS256);
    let signer = PureRustSigner::new(TestEntropy::new(3));
    let sig = block_on(signer.sign(Alg::RS256, &k.kid, &k.pkcs8_der, b"signed")).unwrap();
    assert_eq!(block_on(verify_signature(&signer, alg, &jwk, b"signed", &sig)), Ok(Ok(())));
    assert_eq!(block_on(verify_signature(&signer, alg, &jwk, b"other", &sig)), Ok(Err(WebauthnError::BadSignature)));
}

#[test]
fn assertion_refusals() {
    let check = |flags, origin, rp_id, uv| {
        let (cd, ad, _) = assertion(flags, 1, origin, rp_id);
        check_assertion(&cd, &ad, &exp(uv)).unwrap_err()
    };
    assert_eq!(check(FLAG_UP, "https://login.example.com:8443", RP_ID, false), WebauthnError::WrongOrigin("https://login.example.com:8443".into()));
    assert_eq!(check(FLAG_UP, ORIGIN, "example.com", false), WebauthnError::WrongRpId);
    assert_eq!(check(FLAG_UP, ORIGIN, RP_ID, true), WebauthnError::UserNotVerified);
    assert_eq!(check(0, ORIGIN, RP_ID, false), WebauthnError::UserNotPresent);
    let (_, ad, _) = assertion(FLAG_UP, 1, ORIGIN, RP_ID);
    assert_eq!(check_assertion(&client_data("webauthn.create", CHALLENGE, ORIGIN), &ad, &exp(false)).unwrap_err(), WebauthnError::WrongType("webauthn.create".into()));
    assert!(matches!(check_assertion(&client_data("webauthn.get", CHALLENGE, ORIGIN), &ad[..36], &exp(false)), Err(WebauthnError::Malformed(_))));
    assert!(matches!(check_assertion(&client_data("webauthn.get", CHALLENGE, ORIGIN), &[ad.clone(), vec![0]].concat(), &exp(false)), Err(WebauthnError::Malformed(_))));
}

#[test]
fn extensions_in_authenticator_data_are_read_over() {
    let mut ad = auth_data(RP_ID, FLAG_UP | FLAG_ED, 3, false);
    ad.extend_from_slice(&map(&[(text("credProtect"), int(2))]));
    assert_eq!(AuthenticatorData::parse(&ad).unwrap().sign_count, 3);
}

#[test]
fn counters_must_grow_unless_both_are_zero() {
    assert!(counter_advances(0, 0));
    assert!(counter_advances(0, 1));
    assert!(counter_advances(41, 42));
    assert!(!counter_advances(42, 42));
    assert!(!counter_advances(42, 7));
    assert!(!counter_advances(42, 0));
}

#[test]
fn public_messages_name_no_detail() {
    let e = WebauthnError::WrongOrigin("https://evil.example".into());
    assert!(!e.public().contains("evil"));
    assert!(e.to_string().contains("evil"));
}
