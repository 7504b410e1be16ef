//! The API's refusals as HTTP answers.

use super::*;

#[test]
fn store_busy_is_503_with_retry_after_and_a_conflict_is_409_without() {
    let busy = ServiceError::new(
        ErrorKind::Unavailable,
        crate::control::error::STORE_BUSY,
        "x",
    );
    let r = ApiError::from(busy).into_response();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.headers()
            .get(axum::http::header::RETRY_AFTER)
            .map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let r = ApiError::from(ServiceError::conflict("changed", None)).into_response();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.headers().get(axum::http::header::RETRY_AFTER).is_none());
}
