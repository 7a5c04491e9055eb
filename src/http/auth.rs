//! Basic authentication (RFC 7617): `--auth USER:PASSWORD`, or
//! `USER:sha256:HEX` so that the password need not sit in a shell's history
//! or a process list.
//!
//! Only digests are kept: SHA-256 of the user name and of the password.
//! A request's credentials are hashed the same way and both digests are
//! compared in constant time, so neither the time an answer takes nor the
//! length of a guess tells anything about the secrets. A request without
//! valid credentials gets 401 with `WWW-Authenticate: Basic realm="...",
//! charset="UTF-8"`. Basic credentials cross the network in clear text: the
//! binary warns at start-up unless it is bound to loopback.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The realm a browser shows when it asks for credentials.
pub const REALM: &str = "asynchat-httpd";

/// The `WWW-Authenticate` value of a 401.
pub const CHALLENGE: &str = "Basic realm=\"asynchat-httpd\", charset=\"UTF-8\"";

/// The user and password a request must present, as digests.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: [u8; 32],
    password: [u8; 32],
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

/// A `--auth` value that is not `USER:PASSWORD` or `USER:sha256:HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCredentials(pub &'static str);

impl fmt::Display for BadCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BadCredentials {}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Equal in a time that depends only on the length (32 bytes here).
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl Credentials {
    /// Parses `USER:PASSWORD` or `USER:sha256:HEX` (64 hex digits, the
    /// SHA-256 of the password, as `printf %s PASSWORD | sha256sum` prints).
    ///
    /// # Errors
    ///
    /// [`BadCredentials`] for an empty user, a user with a control
    /// character, an empty password, or a digest that is not 64 hex digits.
    pub fn parse(spec: &str) -> Result<Credentials, BadCredentials> {
        let (user, secret) = spec.split_once(':').ok_or(BadCredentials(
            "--auth takes USER:PASSWORD or USER:sha256:HEX",
        ))?;
        if user.is_empty() || user.chars().any(char::is_control) {
            return Err(BadCredentials(
                "the user name must be non-empty, with no control characters",
            ));
        }
        let password = match secret.strip_prefix("sha256:") {
            Some(hex) => {
                let digits = hex.as_bytes();
                if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
                    return Err(BadCredentials(
                        "after sha256: comes the password's SHA-256 in 64 hex digits",
                    ));
                }
                let mut digest = [0u8; 32];
                for (i, pair) in digits.chunks(2).enumerate() {
                    let text = std::str::from_utf8(pair).unwrap_or("00");
                    digest[i] = u8::from_str_radix(text, 16).unwrap_or(0);
                }
                digest
            }
            None if secret.is_empty() => return Err(BadCredentials("the password is empty")),
            None => sha256(secret.as_bytes()),
        };
        Ok(Credentials {
            user: sha256(user.as_bytes()),
            password,
        })
    }

    /// True when an `Authorization` value presents these credentials:
    /// `Basic` (any case) and the base64 of `user:password`.
    pub fn accept(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let value = super::ows::trim(value);
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = STANDARD.decode(super::ows::trim(token)) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        // Both compared, always: which one is wrong is not told by time.
        let user_ok = same(&sha256(user), &self.user);
        let password_ok = same(&sha256(password), &self.password);
        user_ok & password_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_password: &str) -> String {
        format!("Basic {}", STANDARD.encode(user_password))
    }

    #[test]
    fn credentials_table() {
        // "secret", as `printf %s secret | sha256sum` prints it.
        let hex = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
        for spec in ["ann:secret".to_string(), format!("ann:sha256:{hex}")] {
            let c = Credentials::parse(&spec).unwrap();
            for (authorization, ok) in [
                (Some(basic("ann:secret")), true),
                (
                    Some(format!("basic {}", STANDARD.encode("ann:secret"))),
                    true,
                ),
                (
                    Some(format!("  Basic   {} ", STANDARD.encode("ann:secret"))),
                    true,
                ),
                (Some(basic("ann:Secret")), false),
                (Some(basic("Ann:secret")), false),
                (Some(basic("ann:secret:")), false),
                (Some(basic("ann")), false),
                (Some(basic(":secret")), false),
                (Some("Bearer abc".to_string()), false),
                (Some("Basic !!!".to_string()), false),
                (Some("Basic".to_string()), false),
                (None, false),
            ] {
                assert_eq!(
                    c.accept(authorization.as_deref()),
                    ok,
                    "{spec}: {authorization:?}"
                );
            }
        }
        // A password with a colon: only the first colon separates.
        let c = Credentials::parse("bob:a:b").unwrap();
        assert!(c.accept(Some(&basic("bob:a:b"))));
        for bad in [
            "nocolon",
            ":pw",
            "u:",
            "u:sha256:abc",
            "u:sha256:zz",
            "a\tb:pw",
        ] {
            assert!(Credentials::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", Credentials::parse("u:p").unwrap()),
            "Credentials { .. }"
        );
    }
}
