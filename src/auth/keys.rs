//! The key that signs access tokens (Ed25519, EdDSA) and its public half as a
//! JWKS. Loaded from `MEMBERD_JWT_KEY_FILE`, or generated once and kept in the
//! database so that every replica signs with the same key.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::model::AuthError;
use crate::error::AppError;

/// Claims of an access token, as API.md lists them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Member id, as a string per RFC 7519.
    pub sub: String,
    pub name: String,
    pub roles: Vec<String>,
    /// Session id.
    pub sid: String,
    /// How the member proved who they are (RFC 8176): `pwd`, `otp`, `hwk`.
    #[serde(default)]
    pub amr: Vec<String>,
    /// Authenticator assurance level: 2 when the session proved a second factor.
    #[serde(default)]
    pub aal: u8,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub aud: String,
}

pub const AUDIENCE: &str = "memberd";

/// One JSON Web Key (RFC 8037 OKP key for Ed25519).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: &'static str,
    /// Always `Ed25519`.
    pub crv: &'static str,
    /// The public key, base64url.
    pub x: String,
    /// Key id, the RFC 7638 thumbprint; matches the `kid` header of access tokens.
    pub kid: String,
    /// Always `EdDSA`.
    pub alg: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

pub struct SigningKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwks: Jwks,
    /// Tokens whose signature was checked already, by SHA-256 of their text:
    /// checking an Ed25519 signature costs tens of microseconds on every
    /// request, a lookup well under one. Issuer and expiry are still checked
    /// on each use.
    verified: quick_cache::sync::Cache<[u8; 32], Arc<AccessClaims>>,
}

/// Verified tokens remembered; a few per active member within a token's lifetime.
const VERIFIED_TOKENS: usize = 20_000;

impl SigningKeys {
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        crate::auth::eddsa::install();
        let signing = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 private key in PKCS#8 PEM: {e}"))?;
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        // RFC 7638: members in lexicographic order, no whitespace.
        let thumbprint = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
        let encoding = EncodingKey::from_ed_pem(pem.as_bytes())?;
        let decoding = DecodingKey::from_ed_components(&x)?;
        let jwk = Jwk {
            kty: "OKP",
            crv: "Ed25519",
            x,
            kid: kid.clone(),
            alg: "EdDSA",
            use_: "sig",
        };
        Ok(Self {
            kid,
            encoding,
            decoding,
            jwks: Jwks { keys: vec![jwk] },
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
        })
    }

    pub fn generate_pem() -> anyhow::Result<String> {
        let key = SigningKey::from_bytes(&crate::random::os_bytes::<32>());
        Ok(key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| anyhow::anyhow!("cannot encode key: {e}"))?
            .to_string())
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    pub fn sign(&self, claims: &AccessClaims) -> Result<String, AppError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(AppError::internal)
    }

    /// Checks signature, issuer and audience; expiry is checked against the
    /// service's clock by the caller, so that it is the same clock everywhere.
    pub fn verify(&self, token: &str, issuer: &str, now: DateTime<Utc>) -> Result<Arc<AccessClaims>, AppError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let claims = match self.verified.get(&digest) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.check_signature(token, issuer).ok_or(AuthError::InvalidToken)?);
                self.verified.insert(digest, claims.clone());
                claims
            }
        };
        if claims.iss != issuer {
            return Err(AuthError::InvalidToken.into());
        }
        if claims.exp <= now.timestamp() {
            return Err(AuthError::TokenExpired.into());
        }
        Ok(claims)
    }

    /// The claims of a token signed with this key for `issuer` and memberd's audience.
    fn check_signature(&self, token: &str, issuer: &str) -> Option<AccessClaims> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return None;
        }
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: "1".into(),
            name: "alice".into(),
            roles: vec!["member".into()],
            sid: "s".into(),
            amr: vec!["pwd".into()],
            aal: 1,
            exp,
            iat: 0,
            iss: "http://memberd".into(),
            aud: AUDIENCE.into(),
        }
    }

    #[test]
    fn signs_and_verifies_with_its_kid() {
        let keys = SigningKeys::from_pem(&SigningKeys::generate_pem().unwrap()).unwrap();
        let now = Utc::now();
        let token = keys.sign(&claims(now.timestamp() + 60)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
            Some(keys.kid())
        );
        assert_eq!(
            *keys.verify(&token, "http://memberd", now).unwrap(),
            claims(now.timestamp() + 60)
        );
        // Remembered, and still checked for issuer and expiry.
        assert_eq!(
            keys.verify(&token, "http://elsewhere", now).unwrap_err().code(),
            "invalid_token"
        );
        assert_eq!(
            keys.verify(&token, "http://memberd", now + chrono::Duration::seconds(60))
                .unwrap_err()
                .code(),
            "token_expired"
        );
        assert_eq!(keys.jwks().keys[0].kid, keys.kid());
    }

    #[test]
    fn refuses_other_keys_issuers_and_expired_tokens() {
        let keys = SigningKeys::from_pem(&SigningKeys::generate_pem().unwrap()).unwrap();
        let other = SigningKeys::from_pem(&SigningKeys::generate_pem().unwrap()).unwrap();
        let now = Utc::now();
        let token = other.sign(&claims(now.timestamp() + 60)).unwrap();
        assert_eq!(
            keys.verify(&token, "http://memberd", now).unwrap_err().code(),
            "invalid_token"
        );
        let token = keys.sign(&claims(now.timestamp() + 60)).unwrap();
        assert_eq!(
            keys.verify(&token, "http://elsewhere", now).unwrap_err().code(),
            "invalid_token"
        );
        let token = keys.sign(&claims(now.timestamp())).unwrap();
        assert_eq!(
            keys.verify(&token, "http://memberd", now).unwrap_err().code(),
            "token_expired"
        );
        assert_eq!(
            keys.verify("not.a.jwt", "http://memberd", now).unwrap_err().code(),
            "invalid_token"
        );
    }
}
