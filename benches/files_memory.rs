//! `cargo bench --bench files_memory -- [--mib N] [--database-url URL]`
//!
//! Starts `roster serve` (release build) on a temporary SQLite store (or the PostgreSQL
//! database given), uploads one file of N MiB (default 200) through the files API as one
//! streamed multipart request, downloads it back, and prints the server's resident memory
//! (`VmRSS`, sampled every 10 ms) before, at its highest during each transfer, and the rise:
//! the files API promises that it stays within 32 MiB whatever the file's size.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ADMIN_PASSWORD: &str = "Adm1n!bench-pass";
const BOUNDARY: &str = "roster-bench-boundary";

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The server's resident memory now, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Samples the RSS of `pid` every 10 ms until stopped; the highest seen.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let (stop, peak) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Sampler { stop, peak, thread }
    }

    fn peak(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.peak.load(Ordering::Relaxed)
    }
}

/// Sends a request head, then `body` writes the body; the status line, headers and a reader
/// positioned at the start of the reply body.
fn request(
    port: u16,
    head: &str,
    body: impl FnOnce(&mut TcpStream),
) -> (String, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    body(&mut stream);
    stream.flush().unwrap();
    let mut reader = BufReader::new(stream);
    let mut headers = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        headers.push_str(&line);
    }
    (headers, reader)
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let head = "GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";
            let (headers, _) = request(port, head, |_| {});
            if headers.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not come up");
}

fn log_on(port: u16) -> String {
    let body = format!(r#"{{"email":"admin@localhost","password":"{ADMIN_PASSWORD}"}}"#);
    let head = format!(
        "POST /users/api/auth HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (headers, _) = request(port, &head, |_| {});
    let cookie = headers
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: session_token="))
        .expect("a session cookie");
    cookie.split(';').next().unwrap().to_owned()
}

fn upload(port: u16, token: &str, mib: usize) -> String {
    let prefix = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let suffix = format!("\r\n--{BOUNDARY}--\r\n");
    let length = prefix.len() + (mib << 20) + suffix.len();
    let head = format!(
        "POST /users/api/files/bench HTTP/1.1\r\nHost: b\r\nCookie: session_token={token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\
         Connection: close\r\n\r\n"
    );
    let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let (headers, mut reader) = request(port, &head, |stream| {
        stream.write_all(prefix.as_bytes()).unwrap();
        for _ in 0..mib {
            stream.write_all(&chunk).unwrap();
        }
        stream.write_all(suffix.as_bytes()).unwrap();
    });
    let mut reply = String::new();
    reader.read_to_string(&mut reply).unwrap();
    assert!(headers.starts_with("HTTP/1.1 200"), "{headers}{reply}");
    reply
}

fn download(port: u16, token: &str) -> u64 {
    let head = format!(
        "GET /users/api/files/bench/big.bin HTTP/1.1\r\nHost: b\r\n\
         Cookie: session_token={token}\r\nConnection: close\r\n\r\n"
    );
    let (headers, mut reader) = request(port, &head, |_| {});
    assert!(headers.starts_with("HTTP/1.1 200"), "{headers}");
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

fn main() {
    let mib: usize = arg("--mib").map_or(200, |m| m.parse().expect("--mib N"));
    let dir = tempfile::tempdir().unwrap();
    let url = arg("--database-url")
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let port = free_port();
    let server = Process(
        Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &url])
            .args(["--upload-limit", &((mib + 1) << 20).to_string()])
            .env("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("ROSTER_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("roster starts"),
    );
    let pid = server.0.id();
    wait_ready(port);
    let token = log_on(port);
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid);
    let store = if url.starts_with("sqlite:") {
        "SQLite (temp file)"
    } else {
        "PostgreSQL"
    };
    println!(
        "store: {store}; file: {mib} MiB; server RSS before: {:.1} MiB",
        mib_of(before)
    );

    let sampler = Sampler::start(pid);
    let started = Instant::now();
    let reply = upload(port, &token, mib);
    let up = sampler.peak();
    println!(
        "upload:   {:.1?}, peak RSS {:.1} MiB, rise {:.1} MiB — {}",
        started.elapsed(),
        mib_of(up),
        mib_of(up.saturating_sub(before)),
        reply.trim()
    );

    let sampler = Sampler::start(pid);
    let started = Instant::now();
    let bytes = download(port, &token);
    let down = sampler.peak();
    assert_eq!(bytes, (mib as u64) << 20, "the whole file came back");
    println!(
        "download: {:.1?}, peak RSS {:.1} MiB, rise {:.1} MiB ({bytes} bytes)",
        started.elapsed(),
        mib_of(down),
        mib_of(down.saturating_sub(before))
    );
    let rise = mib_of(up.max(down).saturating_sub(before));
    println!(
        "largest rise: {rise:.1} MiB ({} the 32 MiB bound)",
        if rise <= 32.0 { "within" } else { "OVER" }
    );
}

fn mib_of(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
