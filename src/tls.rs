//! TLS 1.3 set-up: the server identity (PEM files or a self-signed
//! certificate made at start), its SubjectPublicKeyInfo hash for
//! Chromium's `--ignore-certificate-errors-spki-list`, and client configs.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Problems setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{path}: {why}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// Certificate generation failed.
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The certificate's DER could not be walked to its public key.
    #[error("certificate: {0}")]
    Der(&'static str),
}

/// The server's certificate chain and key.
#[derive(Debug)]
pub struct Identity {
    /// Certificate chain, leaf first.
    pub certs: Vec<CertificateDer<'static>>,
    /// Private key.
    pub key: PrivateKeyDer<'static>,
    /// base64(SHA-256(SubjectPublicKeyInfo)) of the leaf.
    pub spki_sha256: String,
    /// Whether the certificate was generated at start.
    pub self_signed: bool,
    /// The leaf as PEM (for `--write-cert`).
    pub cert_pem: String,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            certs: self.certs.clone(),
            key: self.key.clone_key(),
            spki_sha256: self.spki_sha256.clone(),
            self_signed: self.self_signed,
            cert_pem: self.cert_pem.clone(),
        }
    }
}

/// The ring crypto provider, passed explicitly everywhere.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn der_header(input: &[u8]) -> Result<(u8, usize, usize), TlsError> {
    let tag = *input.first().ok_or(TlsError::Der("truncated"))?;
    let first = *input.get(1).ok_or(TlsError::Der("truncated"))?;
    if first < 0x80 {
        return Ok((tag, 2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return Err(TlsError::Der("unsupported length form"));
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*input.get(2 + i).ok_or(TlsError::Der("truncated"))?);
    }
    Ok((tag, 2 + n, len))
}

/// A DER element: (tag, element with header, contents, rest of the input).
type DerElement<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// Splits the first DER element off `input`.
fn der_element(input: &[u8]) -> Result<DerElement<'_>, TlsError> {
    let (tag, hlen, len) = der_header(input)?;
    let end = hlen
        .checked_add(len)
        .ok_or(TlsError::Der("length overflow"))?;
    if input.len() < end {
        return Err(TlsError::Der("truncated"));
    }
    Ok((tag, &input[..end], &input[hlen..end], &input[end..]))
}

/// The SubjectPublicKeyInfo (with its DER header) of an X.509 certificate.
//= https://www.rfc-editor.org/rfc/rfc5280#section-4.1
//# TBSCertificate  ::=  SEQUENCE  {
//#      version         [0]  EXPLICIT Version DEFAULT v1,
//#      serialNumber         CertificateSerialNumber,
//#      signature            AlgorithmIdentifier,
//#      issuer               Name,
//#      validity             Validity,
//#      subject              Name,
//#      subjectPublicKeyInfo SubjectPublicKeyInfo,
pub fn spki_of(cert_der: &[u8]) -> Result<&[u8], TlsError> {
    let (tag, _, cert, _) = der_element(cert_der)?;
    if tag != 0x30 {
        return Err(TlsError::Der("certificate is not a SEQUENCE"));
    }
    let (tag, _, tbs, _) = der_element(cert)?;
    if tag != 0x30 {
        return Err(TlsError::Der("tbsCertificate is not a SEQUENCE"));
    }
    let mut rest = tbs;
    // Optional [0] version.
    if rest.first() == Some(&0xa0) {
        rest = der_element(rest)?.3;
    }
    // serialNumber, signature, issuer, validity, subject.
    for _ in 0..5 {
        rest = der_element(rest)?.3;
    }
    let (tag, spki, _, _) = der_element(rest)?;
    if tag != 0x30 {
        return Err(TlsError::Der("subjectPublicKeyInfo is not a SEQUENCE"));
    }
    Ok(spki)
}

/// base64(SHA-256(SPKI)) of a certificate, as Chromium expects it.
pub fn spki_sha256(cert_der: &[u8]) -> Result<String, TlsError> {
    let spki = spki_of(cert_der)?;
    let d = ring::digest::digest(&ring::digest::SHA256, spki);
    Ok(base64::engine::general_purpose::STANDARD.encode(d.as_ref()))
}

impl Identity {
    /// A self-signed certificate for localhost, 127.0.0.1 and ::1.
    pub fn self_signed() -> Result<Self, TlsError> {
        Self::self_signed_for(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])
    }

    /// A self-signed certificate for these names (many names make a large
    /// certificate: a handshake flight that meets the amplification limit).
    pub fn self_signed_for(names: Vec<String>) -> Result<Self, TlsError> {
        let ck = rcgen::generate_simple_self_signed(names)?;
        let cert = ck.cert.der().clone();
        let spki = spki_sha256(&cert)?;
        let key = PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
        Ok(Identity {
            certs: vec![cert],
            key,
            spki_sha256: spki,
            self_signed: true,
            cert_pem: ck.cert.pem(),
        })
    }

    /// The private key as PEM (PKCS#8), for servers run beside pushlab
    /// with the same identity (the nginx comparison).
    pub fn key_pem(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.key.secret_der());
        let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END PRIVATE KEY-----\n");
        out
    }

    /// Loads a PEM certificate chain and private key.
    pub fn from_pem(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let perr = |p: &Path, why: String| TlsError::Pem {
            path: p.display().to_string(),
            why,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| perr(cert, e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| perr(cert, e.to_string()))?;
        let leaf = certs
            .first()
            .ok_or_else(|| perr(cert, "no CERTIFICATE block".into()))?;
        let spki = spki_sha256(leaf)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| perr(key, e.to_string()))?;
        let cert_pem = std::fs::read_to_string(cert).map_err(|e| perr(cert, e.to_string()))?;
        Ok(Identity {
            certs,
            key,
            spki_sha256: spki,
            self_signed: false,
            cert_pem,
        })
    }

    /// A TLS 1.3-only server configuration with the given ALPN protocols.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, TlsError> {
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(self.certs.clone(), self.key.clone_key())?;
        cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        cfg.max_early_data_size = 0;
        Ok(cfg)
    }
}

/// Accepts any server certificate (for `pushlab get --insecure` against
/// self-signed test servers); signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration: trusting `ca` (PEM), or anything when `insecure`.
pub fn client_config(
    insecure: bool,
    ca: Option<&Path>,
    alpn: &[&[u8]],
) -> Result<rustls::ClientConfig, TlsError> {
    client_config_with(provider(), insecure, ca, alpn)
}

/// Like [`client_config`], with a given crypto provider (cipher suites).
pub fn client_config_with(
    provider: Arc<rustls::crypto::CryptoProvider>,
    insecure: bool,
    ca: Option<&Path>,
    alpn: &[&[u8]],
) -> Result<rustls::ClientConfig, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let mut cfg = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(ca) = ca {
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| TlsError::Pem {
                path: ca.display().to_string(),
                why: e.to_string(),
            })? {
                let c = c.map_err(|e| TlsError::Pem {
                    path: ca.display().to_string(),
                    why: e.to_string(),
                })?;
                roots.add(c)?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SPKI found by walking the DER is the one rcgen put there.
    #[test]
    fn spki_matches_the_key() {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let spki = spki_of(ck.cert.der()).unwrap();
        use rcgen::PublicKeyData;
        assert_eq!(spki, ck.signing_key.subject_public_key_info().as_slice());
        let id = Identity::self_signed().unwrap();
        assert_eq!(id.spki_sha256.len(), 44);
    }

    #[test]
    fn der_walk_rejects_garbage() {
        assert!(spki_of(&[]).is_err());
        assert!(spki_of(&[0x30, 0x82, 0xff]).is_err());
        assert!(spki_of(&[0x04, 0x00]).is_err());
        assert!(spki_of(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_err());
    }
}
