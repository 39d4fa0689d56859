//! Signing through WebCrypto (`crypto.subtle`), which workerd runs natively: an RSA-2048 signature
//! in pure-Rust wasm costs ~6.7 ms of CPU, most of the Workers free plan's 10 ms budget.
//!
//! Private keys are imported once per isolate (non-extractable) and cached by kid, checked
//! against the DER they came from. ES256 verification (every access token userinfo and
//! the resource endpoints see, client assertions) goes through WebCrypto too: a P-256 verification
//! in pure-Rust wasm costs ~0.3 ms of CPU, a fifth of a whole authorization-code flow here. Public
//! keys are cached by their coordinates. RSA verification stays in pure Rust (cheap with a public
//! exponent of 65537), and so does any key WebCrypto refuses: the pure-Rust path gives the answer.
//!
//! RSA keys are generated here too (workspace creation, rotation): RSA-2048 generation in
//! pure-Rust wasm took about 1.6 s of CPU per key under workerd here (it varies with the prime
//! search); creating a workspace went from about 3.5 s of CPU to 0.3 s. The key leaves as PKCS#8
//! DER; the core checks and re-encodes it and builds its JWK and kid. The bundle carries no
//! pure-Rust RSA key generation at all (edgeauth-core without `rsa-keygen`).

use edgeauth_core::jose::{PureRustSigner, RSA_BITS};
use edgeauth_core::runtime::{Alg, Entropy, Signer, StoreError};
use js_sys::{Array, Object, Reflect, Uint8Array};
use serde_json::Value;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CryptoKey, SubtleCrypto};

/// Enough for every active and next key of the workspaces one isolate serves at a time.
const KEY_CACHE_CAPACITY: usize = 32;

/// An imported key with the DER it came from and the algorithm it was imported for.
struct ImportedKey {
    der: Vec<u8>,
    alg: Alg,
    key: CryptoKey,
}

pub struct WebCryptoSigner<E: Entropy> {
    fallback: PureRustSigner<E>,
    keys: RefCell<HashMap<String, ImportedKey>>,
    /// EC P-256 public keys by `x.y`.
    public_keys: RefCell<HashMap<String, CryptoKey>>,
    /// `crypto.subtle` and the `sign` parameters of each algorithm (ES256, RS256, PS256), looked
    /// up and built once: WebCrypto reads the parameters at each call and keeps nothing of them.
    subtle: OnceCell<SubtleCrypto>,
    sign_params: [OnceCell<Object>; 3],
}

impl<E: Entropy> WebCryptoSigner<E> {
    pub fn new(entropy: E) -> Self {
        WebCryptoSigner {
            fallback: PureRustSigner::new(entropy),
            keys: RefCell::new(HashMap::new()),
            public_keys: RefCell::new(HashMap::new()),
            subtle: OnceCell::new(),
            sign_params: Default::default(),
        }
    }

    fn subtle(&self) -> Result<SubtleCrypto, JsValue> {
        if let Some(s) = self.subtle.get() {
            return Ok(s.clone());
        }
        let s = subtle()?;
        Ok(self.subtle.get_or_init(|| s).clone())
    }

    fn sign_params(&self, alg: Alg) -> Result<Object, JsValue> {
        let cell = &self.sign_params[match alg {
            Alg::ES256 => 0,
            Alg::RS256 => 1,
            Alg::PS256 => 2,
        }];
        if let Some(p) = cell.get() {
            return Ok(p.clone());
        }
        let p = sign_params(alg)?;
        Ok(cell.get_or_init(|| p).clone())
    }

    async fn ec_public_key(&self, subtle: &SubtleCrypto, x: &str, y: &str) -> Result<CryptoKey, JsValue> {
        let id = format!("{x}.{y}");
        if let Some(key) = self.public_keys.borrow().get(&id) {
            return Ok(key.clone());
        }
        // Only the members WebCrypto needs: `alg`, `use` or `key_ops` were checked by the caller.
        let jwk = object(&[("kty", "EC".into()), ("crv", "P-256".into()), ("x", x.into()), ("y", y.into())])?;
        let usages = Array::of1(&JsValue::from_str("verify"));
        let promise = subtle.import_key_with_object("jwk", &jwk, &import_params(Alg::ES256)?, false, &usages)?;
        let key: CryptoKey = crate::executor::settled(&promise).await?.unchecked_into();
        let mut keys = self.public_keys.borrow_mut();
        if keys.len() >= KEY_CACHE_CAPACITY {
            keys.clear();
        }
        keys.insert(id, key.clone());
        Ok(key)
    }

    /// `Ok(None)` when WebCrypto cannot judge (the key does not import): the caller asks pure Rust.
    async fn verify_es256(&self, public_jwk: &Value, message: &[u8], signature: &[u8]) -> Result<Option<bool>, JsValue> {
        let member = |n: &str| public_jwk.get(n).and_then(Value::as_str);
        let (Some(x), Some(y)) = (member("x"), member("y")) else { return Ok(None) };
        let subtle = self.subtle()?;
        let Ok(key) = self.ec_public_key(&subtle, x, y).await else { return Ok(None) };
        // JWS carries r || s, 64 bytes, which is what WebCrypto takes; any other length is false.
        if signature.len() != 64 {
            return Ok(Some(false));
        }
        let promise = subtle.verify_with_object_and_u8_array_and_u8_array(&self.sign_params(Alg::ES256)?, &key, signature, message)?;
        Ok(Some(crate::executor::settled(&promise).await?.as_bool() == Some(true)))
    }

    async fn private_key(&self, subtle: &SubtleCrypto, alg: Alg, kid: &str, der: &[u8]) -> Result<CryptoKey, JsValue> {
        if let Some(cached) = self.keys.borrow().get(kid) {
            if cached.der == der && cached.alg == alg {
                return Ok(cached.key.clone());
            }
        }
        let usages = Array::of1(&JsValue::from_str("sign"));
        let data: Object = Uint8Array::from(der).into();
        let promise = subtle.import_key_with_object("pkcs8", &data, &import_params(alg)?, false, &usages)?;
        let key: CryptoKey = crate::executor::settled(&promise).await?.unchecked_into();
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= KEY_CACHE_CAPACITY {
            keys.clear();
        }
        keys.insert(kid.to_string(), ImportedKey { der: der.to_vec(), alg, key: key.clone() });
        Ok(key)
    }

    /// A new RSA-2048 private key (e = 65537) for `alg`, exported as PKCS#8 DER.
    async fn generate_rsa(&self, alg: Alg) -> Result<Vec<u8>, JsValue> {
        let subtle = subtle()?;
        let params = import_params(alg)?;
        Reflect::set(&params, &JsValue::from_str("modulusLength"), &JsValue::from(RSA_BITS as u32))?;
        Reflect::set(&params, &JsValue::from_str("publicExponent"), &Uint8Array::from(&[1u8, 0, 1][..]))?;
        let usages = Array::of2(&JsValue::from_str("sign"), &JsValue::from_str("verify"));
        let pair = crate::executor::settled(&subtle.generate_key_with_object(&params, true, &usages)?).await?;
        let private: CryptoKey = Reflect::get(&pair, &JsValue::from_str("privateKey"))?.unchecked_into();
        let der = crate::executor::settled(&subtle.export_key("pkcs8", &private)?).await?;
        Ok(Uint8Array::new(&der).to_vec())
    }

    async fn sign_webcrypto(&self, alg: Alg, kid: &str, der: &[u8], message: &[u8]) -> Result<Vec<u8>, JsValue> {
        let subtle = self.subtle()?;
        let key = self.private_key(&subtle, alg, kid, der).await?;
        let promise = subtle.sign_with_object_and_u8_array(&self.sign_params(alg)?, &key, message)?;
        // ECDSA comes back as the 64-byte r || s that JWS wants; RSA as the plain signature.
        Ok(Uint8Array::new(&crate::executor::settled(&promise).await?).to_vec())
    }
}

fn subtle() -> Result<SubtleCrypto, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    Ok(Reflect::get(&crypto, &JsValue::from_str("subtle"))?.unchecked_into())
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
        if alg == Alg::ES256 {
            // The same refusal as the pure-Rust path for a key that does not fit the algorithm.
            edgeauth_core::jose::check_key_fits(alg, public_jwk).map_err(StoreError::new)?;
            if let Ok(Some(valid)) = self.verify_es256(public_jwk, message, signature).await {
                return Ok(valid);
            }
        }
        self.fallback.verify(alg, public_jwk, message, signature).await
    }

    async fn generate_key(&self, alg: Alg) -> Result<Option<Vec<u8>>, StoreError> {
        // The core asks for RSA keys only (a P-256 key costs about a millisecond in pure Rust).
        if alg == Alg::ES256 {
            return Ok(None);
        }
        // The bundle has no pure-Rust RSA key generation (edgeauth-core's `rsa-keygen` is off), so
        // a refusal is an error with its cause, not a slow fallback.
        self.generate_rsa(alg).await.map(Some).map_err(|e| StoreError::new(format!("WebCrypto could not generate an RSA key: {e:?}")))
    }
}
