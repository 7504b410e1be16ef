//! The signature of a webhook body: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! (ring's HMAC, already in the tree for TLS). Receivers recompute it and reject an old `t`.

use ring::hmac;

/// Lower-case hex of HMAC-SHA256(`secret`, `message`).
pub fn hex_hmac_sha256(secret: &[u8], message: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, message);
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `X-Flagtop-Signature` value for `body` sent at `t`.
pub fn signature_header(secret: &[u8], t: i64, body: &str) -> String {
    let signed = format!("{t}.{body}");
    format!("t={t},v1={}", hex_hmac_sha256(secret, signed.as_bytes()))
}
