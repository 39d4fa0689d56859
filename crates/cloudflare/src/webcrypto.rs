//! Signing through WebCrypto (`crypto.subtle`), which workerd runs natively: an RSA-2048 signature
//! in pure-Rust wasm costs ~6.7 ms of CPU, most of the Workers free plan's 10 ms budget.
//!
//! Private keys are imported once per isolate (non-extractable) and cached by kid, checked
//! against a hash of the DER they came from. Verification (client assertions, rarely RSA) stays
//! in pure Rust: it is cheap with a public exponent of 65537, and one code path checks every
//! signature the same way on every runtime.

use edgeauth_core::crypto::sha256;
use edgeauth_core::jose::PureRustSigner;
use edgeauth_core::runtime::{Alg, Entropy, Signer, StoreError};
use js_sys::{Array, Object, Reflect, Uint8Array};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

/// Enough for every active and next key of the workspaces one isolate serves at a time.
const KEY_CACHE_CAPACITY: usize = 32;

/// An imported key with the SHA-256 of the DER it came from and the algorithm it was imported for.
struct ImportedKey {
    der_sha256: [u8; 32],
    alg: Alg,
    key: CryptoKey,
}

pub struct WebCryptoSigner<E: Entropy> {
    fallback: PureRustSigner<E>,
    keys: RefCell<HashMap<String, ImportedKey>>,
}

impl<E: Entropy> WebCryptoSigner<E> {
    pub fn new(entropy: E) -> Self {
        WebCryptoSigner { fallback: PureRustSigner::new(entropy), keys: RefCell::new(HashMap::new()) }
    }

    async fn private_key(&self, subtle: &SubtleCrypto, alg: Alg, kid: &str, der: &[u8]) -> Result<CryptoKey, JsValue> {
        let der_sha256 = sha256(der);
        if let Some(cached) = self.keys.borrow().get(kid) {
            if cached.der_sha256 == der_sha256 && cached.alg == alg {
                return Ok(cached.key.clone());
            }
        }
        let usages = Array::of1(&JsValue::from_str("sign"));
        let data: Object = Uint8Array::from(der).into();
        let promise = subtle.import_key_with_object("pkcs8", &data, &import_params(alg)?, false, &usages)?;
        let key: CryptoKey = JsFuture::from(promise).await?.unchecked_into();
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= KEY_CACHE_CAPACITY {
            keys.clear();
        }
        keys.insert(kid.to_string(), ImportedKey { der_sha256, alg, key: key.clone() });
        Ok(key)
    }

    async fn sign_webcrypto(&self, alg: Alg, kid: &str, der: &[u8], message: &[u8]) -> Result<Vec<u8>, JsValue> {
        let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
        let subtle: SubtleCrypto = Reflect::get(&crypto, &JsValue::from_str("subtle"))?.unchecked_into();
        let key = self.private_key(&subtle, alg, kid, der).await?;
        let promise = subtle.sign_with_object_and_u8_array(&sign_params(alg)?, &key, message)?;
        // ECDSA comes back as the 64-byte r || s that JWS wants; RSA as the plain signature.
        Ok(Uint8Array::new(&JsFuture::from(promise).await?).to_vec())
    }
}

fn object(pairs: &[(&str, JsValue)]) -> Result<Object, JsValue> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v)?;
    }
    Ok(o)
}

fn import_params(alg: Alg) -> Result<Object, JsValue> {
    match alg {
        Alg::ES256 => object(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())]),
        Alg::RS256 => object(&[("name", "RSASSA-PKCS1-v1_5".into()), ("hash", "SHA-256".into())]),
        Alg::PS256 => object(&[("name", "RSA-PSS".into()), ("hash", "SHA-256".into())]),
    }
}

fn sign_params(alg: Alg) -> Result<Object, JsValue> {
    match alg {
        Alg::ES256 => object(&[("name", "ECDSA".into()), ("hash", "SHA-256".into())]),
        Alg::RS256 => object(&[("name", "RSASSA-PKCS1-v1_5".into())]),
        // RFC 7518 section 3.5: the salt is as long as the hash.
        Alg::PS256 => object(&[("name", "RSA-PSS".into()), ("saltLength", 32.into())]),
    }
}

impl<E: Entropy> Signer for WebCryptoSigner<E> {
    async fn sign(&self, alg: Alg, kid: &str, pkcs8_der: &[u8], message: &[u8]) -> Result<Vec<u8>, StoreError> {
        match self.sign_webcrypto(alg, kid, pkcs8_der, message).await {
            Ok(sig) => Ok(sig),
            Err(e) => {
                // A platform that refuses a key we generated is worth a log line, not an outage.
                worker::console_warn!("edgeauth: WebCrypto could not sign ({e:?}); signing in pure Rust");
                self.fallback.sign(alg, kid, pkcs8_der, message).await
            }
        }
    }

    async fn verify(&self, alg: Alg, public_jwk: &Value, message: &[u8], signature: &[u8]) -> Result<bool, StoreError> {
        self.fallback.verify(alg, public_jwk, message, signature).await
    }
}
