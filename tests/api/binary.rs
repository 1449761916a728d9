//! Runs the built `roster` binary: one-shot commands, and `roster serve` read from its stderr.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Variables of the test's own environment that must not leak into the binary.
const CLEARED: [&str; 5] = [
    "ROSTER_DATABASE_URL",
    "ROSTER_PASSWORD_PEPPER",
    "ROSTER_ADMIN_PASSWORD",
    "ROSTER_LISTEN",
    "ROSTER_AUDIT_RETENTION_DAYS",
];

/// The binary with `args`, `envs` and a clean `ROSTER_*` environment, run in `dir`.
pub fn command(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    for name in CLEARED {
        cmd.env_remove(name);
    }
    cmd.current_dir(dir)
        .env("ROSTER_LOG", "info")
        .envs(envs.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A `roster serve` process, killed when dropped.
pub struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its stderr so far.
    pub log: String,
}

/// How long a start may take before the test gives up.
const START: Duration = Duration::from_secs(60);

/// Starts `roster serve ARGS` (on `ROSTER_LISTEN=127.0.0.1:0` unless `--listen` is given); `Err` holds the output of a start that
/// failed (the process exited before listening).
pub fn serve(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Result<Server, String> {
    let mut full = vec!["serve"];
    full.extend_from_slice(args);
    let mut child = command(dir, envs, &full)
        .env("ROSTER_LISTEN", "127.0.0.1:0")
        .envs(envs.iter().copied())
        .spawn()
        .expect("the binary runs");
    let stderr = child.stderr.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let mut server = Server {
        child,
        lines,
        addr: "0.0.0.0:0".parse().unwrap(),
        log: String::new(),
    };
    match server.wait_for("Roster listening on http://", START) {
        Some(line) => {
            let addr = line.rsplit("http://").next().unwrap().trim();
            server.addr = addr.parse().expect("an address");
            Ok(server)
        }
        None => {
            let status = server.child.wait().unwrap();
            Err(format!("{status}: {}", server.log))
        }
    }
}

impl Server {
    /// Reads stderr until a line contains `needle` (returned), the process ends, or `limit`.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> Option<String> {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push_str(&line);
                    self.log.push('\n');
                    if line.contains(needle) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
