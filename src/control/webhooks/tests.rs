//! Backoff bounds and the signature against a known HMAC-SHA256 vector.

use super::*;

#[test]
fn backoff_doubles_with_jitter_and_is_capped() {
    assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
    assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
    assert_eq!(backoff(4, 0.5), Duration::from_secs(4));
    assert_eq!(backoff(60, 1.0), BACKOFF_MAX);
    for _ in 0..100 {
        let j = jitter();
        assert!((0.5..1.0).contains(&j), "{j}");
    }
}

#[test]
fn the_signature_is_hmac_sha256_over_time_dot_body() {
    // RFC 4231 test case 2.
    assert_eq!(
        hex_hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let h = signature_header(b"Jefe", 1, " do ya want for nothing?");
    // "1." + " do ya …" is not the vector's message: the time is part of what is signed.
    assert!(h.starts_with("t=1,v1="));
    assert_ne!(
        &h[7..],
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        signature_header(b"Jefe", 7, "x"),
        format!("t=7,v1={}", hex_hmac_sha256(b"Jefe", b"7.x"))
    );
}
