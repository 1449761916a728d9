//! A throwaway PostgreSQL cluster for the test process: `initdb` and the server binaries
//! from `/usr/lib/postgresql/*/bin`, socket and data in a temp dir, a random port, and a
//! fresh database per test. The server gets SIGTERM when this process exits (pdeathsig).
//! `start` also makes clusters with TLS on (`tests/api/pg_tls.rs`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running cluster.
pub struct Cluster {
    port: u16,
    tls: bool,
    server: Server,
    _dir: TempDir,
}

/// How to run the cluster's server process (again, after a stop).
#[derive(Clone)]
struct Server {
    bin: PathBuf,
    data: PathBuf,
    args: Vec<String>,
}

impl Server {
    /// Starts the server process; it is a child of a thread that lives as long as the test
    /// process, so pdeathsig fires only when the test process ends.
    fn spawn(&self, port: u16) {
        let server = self.clone();
        std::thread::spawn(move || {
            let mut child = as_server_user(&server.bin.join("postgres"), true)
                .arg("-D")
                .arg(&server.data)
                .args(&server.args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("postgres starts");
            let _ = child.wait();
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How a cluster differs from the plain one the suite shares.
#[derive(Default)]
pub struct Options {
    /// TLS on with this certificate and key (PEM), and only `hostssl` connections allowed.
    pub tls: Option<ServerTls>,
    /// A second loopback address to listen on besides 127.0.0.1 (a name not in a certificate).
    pub also_listen_on: Option<&'static str>,
}

/// The server's side of TLS.
pub struct ServerTls {
    /// The certificate chain, PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The cluster, started on first use; `None` where PostgreSQL is not installed (outside CI).
pub fn cluster() -> Option<&'static Cluster> {
    CLUSTER
        .get_or_init(|| {
            let cluster = start(Options::default());
            if cluster.is_none() {
                eprintln!("PostgreSQL not installed: the postgres suite runs on SQLite instead");
            }
            cluster
        })
        .as_ref()
}

impl Cluster {
    /// Stops the server (fast shutdown: sessions are cut) and waits until it is down.
    pub fn stop(&self) {
        let out = as_server_user(&self.server.bin.join("pg_ctl"), false)
            .arg("-D")
            .arg(&self.server.data)
            .args(["stop", "-m", "fast", "-w"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the stopped server again on the same port and data.
    pub fn resume(&self) {
        self.server.spawn(self.port);
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database and returns its URL (without query parameters).
    pub async fn fresh_database(&self) -> String {
        let name = format!("roster_test_{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
        let mut admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        if self.tls {
            admin.push_str("?sslmode=require");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let pool = loop {
            match sqlx::PgPool::connect(&admin).await {
                Ok(pool) => break pool,
                Err(e) if Instant::now() > deadline => {
                    panic!("cannot connect to the test cluster: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create database");
        pool.close().await;
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `setpriv` as the `postgres` user when we are root (initdb refuses to run as root).
fn as_server_user(program: &Path, pdeathsig: bool) -> Command {
    let mut cmd = Command::new("setpriv");
    if is_root() {
        cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
    }
    if pdeathsig {
        cmd.arg("--pdeathsig=TERM");
    }
    cmd.arg("--").arg(program);
    cmd
}

/// Removes the directories of clusters whose test process has ended (the static holding
/// the `TempDir` is never dropped).
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with("roster-pg-")
        {
            continue;
        }
        // The test process that made it (a stopped cluster has no postmaster.pid), else
        // the server's own pid file.
        let owner = std::fs::read_to_string(path.join("owner.pid"))
            .or_else(|_| std::fs::read_to_string(path.join("data/postmaster.pid")))
            .unwrap_or_default();
        let alive = owner
            .lines()
            .next()
            .is_some_and(|pid| Path::new(&format!("/proc/{}", pid.trim())).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes a file only its owner (the server user) may read: PostgreSQL refuses a key
/// that others can read.
fn write_private(path: &Path, contents: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    if is_root() {
        let status = Command::new("chown")
            .arg("postgres:postgres")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "chown of {}", path.display());
    }
}

/// Puts the certificate and key into the data directory and allows only TLS over TCP
/// (`local` stays for the socket); returns the server settings that turn TLS on.
fn configure_tls(data: &Path, tls: &ServerTls) -> Vec<String> {
    write_private(&data.join("server.crt"), &tls.cert_pem);
    write_private(&data.join("server.key"), &tls.key_pem);
    write_private(
        &data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
    );
    [
        "ssl=on",
        "ssl_cert_file=server.crt",
        "ssl_key_file=server.key",
    ]
    .into_iter()
    .flat_map(|setting| ["-c".to_owned(), setting.to_owned()])
    .collect()
}

/// Starts a cluster; `None` where PostgreSQL is not installed, a failure in CI.
pub fn start(options: Options) -> Option<Cluster> {
    let Some(bin) = bin_dir() else {
        assert!(
            std::env::var("CI").is_err(),
            "PostgreSQL is required in CI: no /usr/lib/postgresql/*/bin/initdb"
        );
        return None;
    };
    remove_stale_clusters();
    let dir = tempfile::Builder::new()
        .prefix("roster-pg-")
        .tempdir()
        .unwrap();
    let data = dir.path().join("data");
    std::fs::write(dir.path().join("owner.pid"), std::process::id().to_string()).unwrap();
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "chown of the cluster directory");
    }
    let out = as_server_user(&bin.join("initdb"), false)
        .args(["-D"])
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .output()
        .expect("initdb runs");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tls_settings = match &options.tls {
        Some(tls) => configure_tls(&data, tls),
        None => Vec::new(),
    };
    let listen = match options.also_listen_on {
        Some(other) => format!("listen_addresses=127.0.0.1,{other}"),
        None => "listen_addresses=127.0.0.1".to_owned(),
    };
    let port = free_port();
    let mut args: Vec<String> = vec!["-k".into(), dir.path().display().to_string()];
    for arg in ["-p", &port.to_string(), "-c", &listen] {
        args.push(arg.to_owned());
    }
    for setting in ["max_connections=500", "fsync=off", "full_page_writes=off"] {
        args.extend(["-c".to_owned(), setting.to_owned()]);
    }
    args.extend(tls_settings);
    let server = Server { bin, data, args };
    server.spawn(port);
    Some(Cluster {
        port,
        tls: options.tls.is_some(),
        server,
        _dir: dir,
    })
}
