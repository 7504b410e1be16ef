//! The TLS server configuration of `serve --tls-cert/--tls-key`: PEM files in, a rustls
//! configuration out, with a clear error for each way they can be wrong. It must not listen.

use super::TlsFiles;
use std::sync::Arc;

/// A rustls server configuration from PEM files, with a clear error for each way they can be wrong.
pub(super) fn tls_config(
    files: &TlsFiles,
) -> color_eyre::Result<tokio_rustls::rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| {
            color_eyre::eyre::eyre!(
                "cannot read the TLS certificate {}: {e}",
                files.cert.display()
            )
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            color_eyre::eyre::eyre!(
                "the TLS certificate {} is not valid PEM: {e}",
                files.cert.display()
            )
        })?;
    if certs.is_empty() {
        return Err(color_eyre::eyre::eyre!(
            "no certificate found in {}",
            files.cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        color_eyre::eyre::eyre!("cannot read the TLS key {}: {e}", files.key.display())
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| color_eyre::eyre::eyre!("TLS set-up failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            color_eyre::eyre::eyre!("the TLS certificate and key do not fit together: {e}")
        })
}
