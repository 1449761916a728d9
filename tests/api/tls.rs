//! HTTPS with rustls: a self-signed certificate, HSTS, and the `Secure` cookie.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::helpers::{fresh_store, Backend, TestApp, ADMIN_PASSWORD};

/// Sends one raw HTTP/1.1 request over TLS and returns the whole reply.
async fn https(app: &TestApp, roots: RootCertStore, request: &str) -> String {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let _ = tls.read_to_end(&mut reply).await;
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn roster_serves_https_with_hsts_and_secure_cookies() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let (url, _store) = fresh_store(Backend::Sqlite).await;
    let app = TestApp::spawn_on(&url, |c| {
        c.tls_cert = Some(cert_path.clone());
        c.tls_key = Some(key_path.clone());
    })
    .await;
    let mut roots = RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();

    let info = https(
        &app,
        roots.clone(),
        "GET /users/api/info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(info.starts_with("HTTP/1.1 200"), "{info}");
    assert!(
        info.to_lowercase()
            .contains("strict-transport-security: max-age=31536000; includesubdomains"),
        "{info}"
    );

    let body = format!(r#"{{"email":"admin@localhost","password":"{ADMIN_PASSWORD}"}}"#);
    let request = format!(
        "POST /users/api/auth HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let logon = https(&app, roots, &request).await;
    let cookie = logon
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie:"))
        .expect("a cookie");
    assert!(
        cookie.contains("session_token=") && cookie.ends_with("; Secure"),
        "{cookie}"
    );

    // Plain HTTP on the TLS port gets no reply.
    let plain = app.client.get(app.url("/users/api/info")).send().await;
    assert!(plain.is_err());
}

#[tokio::test]
async fn a_missing_or_mismatched_certificate_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _store) = fresh_store(Backend::Sqlite).await;
    let mut config = roster::config::Config::for_tests("127.0.0.1:0".parse().unwrap(), &url);
    config.tls_cert = Some(dir.path().join("missing.pem"));
    config.tls_key = Some(dir.path().join("missing-key.pem"));
    let err = roster::app::App::build(config)
        .await
        .err()
        .expect("refused");
    assert!(err.contains("certificate"), "{err}");
}
