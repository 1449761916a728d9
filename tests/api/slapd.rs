//! A throwaway `OpenLDAP` `slapd` per test: its own `slapd.conf` and mdb database in a temp
//! dir, people loaded with `slapadd`, a random port on 127.0.0.1, running in the foreground
//! (`-d stats`, its log in the temp dir) and killed when the `Slapd` is dropped or the test
//! process ends (pdeathsig). Debian's system `slapd` (port 389) is neither used nor needed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::pg::ServerTls;

/// The directory's suffix, and the search base Roster is given.
pub const BASE_DN: &str = "dc=example,dc=org";
/// The service account Roster searches as.
pub const SERVICE_DN: &str = "cn=roster,ou=services,dc=example,dc=org";
/// Its password.
pub const SERVICE_PASSWORD: &str = "service-Pa55";
/// The directory administrator (for changing passwords in tests).
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=org";
const ROOT_PASSWORD: &str = "root-Pa55";

/// People in the directory: uid and password.
pub const ALICE: (&str, &str) = ("alice", "Alice-dir-pw1");
pub const BOB: (&str, &str) = ("bob", "Bob-dir-pw2");

/// The DN of a person.
pub fn person_dn(uid: &str) -> String {
    format!("uid={uid},ou=people,{BASE_DN}")
}

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";

/// A running `slapd`.
pub struct Slapd {
    /// The `ldap://` port.
    pub port: u16,
    /// The `ldaps://` port (when started with TLS).
    pub ldaps_port: u16,
    urls: String,
    child: Mutex<Option<Child>>,
    dir: TempDir,
}

/// Whether `slapd` is installed; in CI (env `CI`) its absence fails the test.
fn installed() -> bool {
    let present = Path::new(SLAPD).exists() && Path::new(SLAPADD).exists();
    assert!(
        present || std::env::var("CI").is_err(),
        "OpenLDAP is required in CI: no {SLAPD} (apt-get install slapd ldap-utils)"
    );
    if !present {
        eprintln!("slapd not installed: the directory test is skipped");
    }
    present
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(dir: &Path, tls: bool) -> String {
    let d = dir.display();
    let tls = if tls {
        format!("TLSCertificateFile {d}/server.crt\nTLSCertificateKeyFile {d}/server.key\n")
    } else {
        String::new()
    };
    // `allow bind_anon_dn`: this server accepts an unauthenticated bind (a DN with an empty
    // password) as anonymous success, so only Roster itself can refuse empty passwords.
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {d}/slapd.pid
allow bind_anon_dn
{tls}database mdb
maxsize 10485760
suffix \"{BASE_DN}\"
rootdn \"{ROOT_DN}\"
rootpw {ROOT_PASSWORD}
directory {d}/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"
    )
}

fn people() -> String {
    let mut ldif = format!(
        "dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: ou=people,{BASE_DN}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=services,{BASE_DN}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: roster\nuserPassword: {SERVICE_PASSWORD}\n\n"
    );
    for (uid, password) in [ALICE, BOB] {
        ldif.push_str(&format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n\
             userPassword: {password}\n\n",
            person_dn(uid)
        ));
    }
    ldif
}

impl Slapd {
    /// A directory with the people above; `None` where slapd is not installed (outside CI).
    pub fn start(tls: Option<&ServerTls>) -> Option<Slapd> {
        if !installed() {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("roster-ldap-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        if let Some(tls) = tls {
            std::fs::write(dir.path().join("server.crt"), &tls.cert_pem).unwrap();
            std::fs::write(dir.path().join("server.key"), &tls.key_pem).unwrap();
        }
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, config(dir.path(), tls.is_some())).unwrap();
        let ldif = dir.path().join("people.ldif");
        std::fs::write(&ldif, people()).unwrap();
        let out = Command::new(SLAPADD)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .output()
            .expect("slapadd runs");
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (port, ldaps_port) = (free_port(), free_port());
        let mut urls = format!("ldap://127.0.0.1:{port}/");
        if tls.is_some() {
            urls.push_str(&format!(" ldaps://127.0.0.1:{ldaps_port}/"));
        }
        let slapd = Slapd {
            port,
            ldaps_port,
            urls,
            child: Mutex::new(None),
            dir,
        };
        slapd.run();
        Some(slapd)
    }

    /// Starts the server process and waits until it listens.
    fn run(&self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("slapd.log"))
            .unwrap();
        // -d keeps slapd in the foreground; 256 is the "stats" level (connections,
        // operations, results). pdeathsig ends it with the thread that started it.
        let child = Command::new("setpriv")
            .arg("--pdeathsig=KILL")
            .arg("--")
            .arg(SLAPD)
            .arg("-f")
            .arg(self.dir.path().join("slapd.conf"))
            .args(["-h", &self.urls, "-d", "256"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("slapd starts");
        *self.child.lock().unwrap() = Some(child);
        self.wait_until_listening();
    }

    /// Stops the server and starts it again on the same ports and database.
    pub fn restart(&self) {
        self.stop();
        self.run();
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "slapd did not start within 20 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ldap://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// A file in the server's temp dir holding `contents`.
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// What slapd has logged so far (stats level).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// How many binds as `dn` the server has seen.
    pub fn binds_as(&self, dn: &str) -> usize {
        self.log()
            .matches(&format!("BIND dn=\"{dn}\" method=128"))
            .count()
    }

    /// Kills the server.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Replaces a person's password, as the directory administrator.
    pub async fn set_password(&self, uid: &str, password: &str) {
        use std::collections::HashSet;
        let (conn, mut ldap) = ldap3::LdapConnAsync::new(&self.url()).await.unwrap();
        ldap3::drive!(conn);
        ldap.simple_bind(ROOT_DN, ROOT_PASSWORD)
            .await
            .unwrap()
            .success()
            .unwrap();
        let values = HashSet::from([password]);
        ldap.modify(
            &person_dn(uid),
            vec![ldap3::Mod::Replace("userPassword", values)],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
        ldap.unbind().await.unwrap();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
