//! TLS to PostgreSQL: a second throwaway cluster with `ssl=on` and a certificate from a test
//! CA, reachable over TCP only through `hostssl`. Roster connects with the `sslmode` and
//! `sslrootcert` URL parameters, and refuses to start when the server cannot be verified.

use std::path::PathBuf;
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;

use crate::helpers::{TestApp, PASSWORD};
use crate::pg::{self, Cluster, Options, ServerTls};

/// In every URL: the server trusts its clients, so the password is never checked, but an
/// error message must still not show it.
const DB_PASSWORD: &str = "Db-pa55word-never-shown";

/// The TLS cluster, the CA that signed its certificate, and a CA that did not.
struct TlsCluster {
    cluster: Cluster,
    ca: PathBuf,
    other_ca: PathBuf,
    _dir: TempDir,
}

static TLS_CLUSTER: OnceLock<Option<TlsCluster>> = OnceLock::new();

/// A self-signed CA: its certificate (PEM) and an issuer to sign with.
pub(crate) fn test_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    (pem, Issuer::new(params, key))
}

/// A server certificate for 127.0.0.1 and localhost, signed by `ca`.
pub(crate) fn server_certificate(ca: &Issuer<'_, KeyPair>) -> ServerTls {
    let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    ServerTls {
        cert_pem: params.signed_by(&key, ca).unwrap().pem(),
        key_pem: key.serialize_pem(),
    }
}

fn start_tls_cluster() -> Option<TlsCluster> {
    let (ca_pem, ca) = test_ca("Roster test CA");
    let (other_ca_pem, _) = test_ca("Another test CA");
    let Some(cluster) = pg::start(Options {
        tls: Some(server_certificate(&ca)),
        also_listen_on: Some("127.0.0.2"),
    }) else {
        eprintln!("PostgreSQL not installed: the PostgreSQL TLS tests are skipped");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ca, other_ca) = (dir.path().join("ca.pem"), dir.path().join("other-ca.pem"));
    std::fs::write(&ca, ca_pem).unwrap();
    std::fs::write(&other_ca, other_ca_pem).unwrap();
    Some(TlsCluster {
        cluster,
        ca,
        other_ca,
        _dir: dir,
    })
}

impl TlsCluster {
    /// A fresh database's URL with the password and the given query parameters.
    async fn url(&self, params: &str) -> String {
        let url = self.cluster.fresh_database().await;
        let url = url.replacen("postgres@", &format!("postgres:{DB_PASSWORD}@"), 1);
        format!("{url}?{params}")
    }
}

/// The TLS cluster, started on first use; `None` (the test passes) where PostgreSQL is not
/// installed, outside CI.
fn tls_cluster() -> Option<&'static TlsCluster> {
    TLS_CLUSTER.get_or_init(start_tls_cluster).as_ref()
}

/// Why `App::build` refuses to start on `url`.
async fn start_error(url: &str) -> String {
    let mut config = roster::config::Config::for_tests("127.0.0.1:0".parse().unwrap(), url);
    config.admin_password = Some(crate::helpers::ADMIN_PASSWORD.into());
    let err = roster::app::App::build(config)
        .await
        .err()
        .expect("the start is refused");
    assert!(!err.contains(DB_PASSWORD), "password shown: {err}");
    err
}

/// Whether the pool's connection to the server is encrypted, as the server sees it.
async fn connection_is_tls(url: &str) -> bool {
    let pool = sqlx::PgPool::connect(url).await.expect("connects");
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    ssl
}

#[tokio::test]
async fn roster_serves_users_over_a_verified_tls_connection() {
    let Some(tls) = tls_cluster() else { return };
    let params = format!("sslmode=verify-full&sslrootcert={}", tls.ca.display());
    let url = tls.url(&params).await;

    let app = TestApp::spawn_on(&url, |_| {}).await;
    app.add_user("alice", "alice@example.com").await;
    let token = app.log_on("alice@example.com", PASSWORD).await;
    assert_eq!(app.account(&token).await["email"], "alice@example.com");

    assert!(connection_is_tls(&url).await, "pg_stat_ssl says no TLS");
}

#[tokio::test]
async fn sslmode_require_encrypts_without_a_root_certificate() {
    let Some(tls) = tls_cluster() else { return };
    let url = tls.url("sslmode=require").await;

    let app = TestApp::spawn_on(&url, |_| {}).await;
    app.add_user("bob", "bob@example.com").await;
    let token = app.log_on("bob@example.com", PASSWORD).await;
    assert_eq!(app.account(&token).await["email"], "bob@example.com");

    assert!(connection_is_tls(&url).await, "pg_stat_ssl says no TLS");
}

#[tokio::test]
async fn a_server_that_allows_only_tls_refuses_a_plain_connection() {
    let Some(tls) = tls_cluster() else { return };
    let url = tls.url("sslmode=disable").await;

    let err = start_error(&url).await;
    assert!(err.contains("no encryption"), "{err}");
    let server = format!("127.0.0.1:{}", tls.cluster.port());
    assert!(err.contains(&server), "{err}");
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_stops_the_start() {
    let Some(tls) = tls_cluster() else { return };
    let server = format!("127.0.0.1:{}", tls.cluster.port());
    for mode in ["verify-full", "verify-ca"] {
        let params = format!("sslmode={mode}&sslrootcert={}", tls.other_ca.display());
        let err = start_error(&tls.url(&params).await).await;
        assert!(
            err.starts_with(&format!(
                "TLS verification of the PostgreSQL server at {server} failed"
            )),
            "{mode}: {err}"
        );
        assert!(err.contains("certificate: UnknownIssuer"), "{mode}: {err}");
    }
}

#[tokio::test]
async fn a_host_name_the_certificate_does_not_hold_stops_the_start() {
    let Some(tls) = tls_cluster() else { return };
    // The server also listens on 127.0.0.2, a name its certificate does not hold.
    // verify-ca should skip the name check (libpq does), but sqlx 0.8.6 with rustls
    // >= 0.23.24 checks it too (launchbadge/sqlx#3793): this test notices when that changes.
    for mode in ["verify-full", "verify-ca"] {
        let params = format!("sslmode={mode}&sslrootcert={}", tls.ca.display());
        let url = tls.url(&params).await.replacen("127.0.0.1", "127.0.0.2", 1);
        let err = start_error(&url).await;
        assert!(
            err.starts_with("TLS verification of the PostgreSQL server at 127.0.0.2:"),
            "{mode}: {err}"
        );
        assert!(err.contains("not valid for name"), "{mode}: {err}");
    }
}

#[tokio::test]
async fn a_missing_root_certificate_file_is_named() {
    let Some(tls) = tls_cluster() else { return };
    let missing = tls.ca.with_file_name("missing-ca.pem");
    let params = format!("sslmode=verify-full&sslrootcert={}", missing.display());
    let err = start_error(&tls.url(&params).await).await;
    let expected = format!("cannot read sslrootcert {}: ", missing.display());
    assert!(
        err.starts_with("TLS to the PostgreSQL server at 127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains(&expected), "{err}");
}
