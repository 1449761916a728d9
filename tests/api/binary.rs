//! Runs the built `roster` binary: one-shot commands, and `roster serve` read from its stderr.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
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

/// Runs a command to its end with `stdin` and returns what it printed.
pub fn run(dir: &Path, envs: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let mut child = command(dir, envs, args).spawn().expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    // A command that fails early may exit before reading: a closed pipe is no error here.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

/// Everything a command printed, stdout then stderr.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
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
    if let Some(line) = server.wait_for("Roster listening on http://", START) {
        let addr = line.rsplit("http://").next().unwrap().trim();
        server.addr = addr.parse().expect("an address");
        Ok(server)
    } else {
        let status = server.child.wait().unwrap();
        Err(format!("{status}: {}", server.log))
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

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the process (SIGKILL) and waits for it; its stderr, and all it wrote on stdout.
    pub fn stop_with_stdout(mut self) -> (String, String) {
        let _ = self.child.kill();
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            use std::io::Read;
            let _ = out.read_to_string(&mut stdout);
        }
        let _ = self.child.wait();
        (std::mem::take(&mut self.log), stdout)
    }

    /// Stops the process (SIGKILL) and waits for it.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::take(&mut self.log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logs on through the ENSIMS dialect; the reply's `ok`.
pub async fn logs_on(server: &Server, email: &str, password: &str) -> bool {
    let body = serde_json::json!({ "email": email, "password": password });
    let reply = reqwest::Client::new()
        .post(server.url("/users/api/auth"))
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let value: serde_json::Value = reply.json().await.unwrap_or_default();
    value["ok"] == true
}
