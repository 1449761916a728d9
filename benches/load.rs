//! `cargo bench --bench load -- [--users N] [--connections C] [--seconds T] [--database-url URL]
//! [--instances I]`
//!
//! Starts `roster serve` (release build) on a temporary SQLite store (or the PostgreSQL
//! database given; with `--instances 2` or more, that many servers on it, the connections
//! spread over them), seeds N users with `roster import` (printing its time and rate), prints
//! `getUsers` latency at offset 0 and N-1000 and the database size per user, then drives C
//! keep-alive connections for T seconds per
//! operation from a one-thread load generator on loopback, and prints requests/s, latency
//! percentiles and errors per operation, the server's peak RSS, and the same load against a
//! trivial axum route that returns a JSON object of the size of `GET /users/api/user`. With
//! several instances it also measures how long a log off through the first takes to be
//! refused by the second (20 trials: median and max).

use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

const PASSWORD: &str = "B3nch!pass";
const ADMIN_PASSWORD: &str = "Adm1n!bench-pass";
const ADMIN_KEY: &str = "bench-admin-key-0123456789";

struct Args {
    users: usize,
    connections: usize,
    seconds: u64,
    database_url: Option<String>,
    instances: usize,
}

fn args() -> Args {
    let mut args = Args {
        users: 1000,
        connections: 32,
        seconds: 10,
        database_url: None,
        instances: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match arg.as_str() {
            "--users" => args.users = value().parse().expect("--users N"),
            "--connections" => args.connections = value().parse().expect("--connections C"),
            "--seconds" => args.seconds = value().parse().expect("--seconds T"),
            "--database-url" => args.database_url = Some(value()),
            "--instances" => args.instances = value().parse().expect("--instances I"),
            _ => {} // cargo passes --bench
        }
    }
    args
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request to send: method, path, headers, body.
struct Call {
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Call {
    fn new(method: Method, path: impl Into<String>) -> Call {
        Call {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: String::new(),
        }
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Call {
        self.headers.push((name, value.into()));
        self
    }
    fn body(mut self, body: impl Into<String>) -> Call {
        self.body = body.into();
        self
    }
}

#[derive(Default)]
struct Stats {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
}

impl Stats {
    fn line(&mut self, name: &str) -> String {
        self.latencies.sort();
        let n = self.latencies.len();
        let p = |q: f64| {
            if n == 0 {
                Duration::ZERO
            } else {
                self.latencies[((n - 1) as f64 * q).round() as usize]
            }
        };
        format!(
            "| {name:<34} | {:>9.0} | {:>8.2?} | {:>8.2?} | {:>8.2?} | {:>6} |",
            n as f64 / self.elapsed.as_secs_f64(),
            p(0.5),
            p(0.9),
            p(0.99),
            self.errors
        )
    }
}

/// Sends one request on a connection and reads the whole reply.
async fn round_trip(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    port: u16,
    call: &Call,
) -> Option<(StatusCode, Bytes, hyper::HeaderMap)> {
    let mut request = Request::builder()
        .method(call.method.clone())
        .uri(&call.path)
        .header("host", format!("127.0.0.1:{port}"));
    for (name, value) in &call.headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(call.body.clone())))
        .ok()?;
    sender.ready().await.ok()?;
    let response = sender.send_request(request).await.ok()?;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.ok()?.to_bytes();
    Some((parts.status, bytes, parts.headers))
}

async fn connect(port: u16) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::task::spawn_local(connection);
    sender
}

/// Drives `connections` keep-alive connections for `seconds`, connection `conn` to
/// `ports[conn % ports.len()]`; `make(conn, k)` gives the k-th request of connection `conn`.
/// A reply other than 200 counts as an error.
async fn drive(
    ports: Vec<u16>,
    connections: usize,
    seconds: f64,
    make: Rc<dyn Fn(usize, u64) -> Call>,
) -> Stats {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for conn in 0..connections {
        let make = make.clone();
        let port = ports[conn % ports.len()];
        tasks.push(tokio::task::spawn_local(async move {
            let mut stats = Stats::default();
            let mut sender = connect(port).await;
            let mut k = 0u64;
            while Instant::now() < deadline {
                let call = make(conn, k);
                k += 1;
                let start = Instant::now();
                match round_trip(&mut sender, port, &call).await {
                    Some((StatusCode::OK, _, _)) => stats.latencies.push(start.elapsed()),
                    Some(_) => stats.errors += 1,
                    None => {
                        stats.errors += 1;
                        sender = connect(port).await;
                    }
                }
            }
            stats
        }));
    }
    let mut all = Stats::default();
    for task in tasks {
        let s = task.await.unwrap();
        all.latencies.extend(s.latencies);
        all.errors += s.errors;
    }
    all.elapsed = started.elapsed();
    all
}

async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            drop(stream);
            let mut sender = connect(port).await;
            if let Some((StatusCode::OK, _, _)) =
                round_trip(&mut sender, port, &Call::new(Method::GET, "/healthz")).await
            {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn credential(user: usize) -> String {
    format!(r#"{{"email":"bench{user}@example.com","password":"{PASSWORD}"}}"#)
}

fn main() {
    let args = args();
    if let Some(size) = std::env::args().skip_while(|a| a != "--echo-server").nth(1) {
        return echo_server(size.parse().unwrap());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run(args));
}

// One load scenario, read top to bottom.
#[allow(clippy::too_many_lines)]
async fn run(args: Args) {
    let dir = tempfile::tempdir().unwrap();
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    assert!(
        args.instances == 1 || args.database_url.is_some(),
        "--instances above 1 needs a shared --database-url (PostgreSQL)"
    );
    // The first migrates the database; the others start on it once it is up.
    let mut servers = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..args.instances.max(1) {
        let port = free_port();
        servers.push(serve(&url, port));
        wait_ready(port).await;
        ports.push(port);
    }
    let port = ports[0];
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!(
        "machine: {cores} cores; store: {}; {} instance(s); {} users; {} connections; {} s per operation",
        if args.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite (temp file)"
        },
        args.instances,
        args.users,
        args.connections,
        args.seconds
    );

    // Seed the users through `roster import`: a JSON-lines file with one precomputed
    // Argon2id hash (of the server's parameters, no pepper) shared by every user.
    let import_secs = import_users(&url, dir.path(), args.users).await;
    println!(
        "imported {} users with roster import in {import_secs:.1} s ({:.0} users/s)",
        args.users,
        args.users as f64 / import_secs
    );
    let mut admin = connect(port).await;
    let deep = args.users.saturating_sub(1000);
    for offset in [0, deep] {
        let (first, p50) = get_users_latency(&mut admin, port, offset).await;
        println!(
            "getUsers at offset {offset} (limit 100): first {:.2} ms, then p50 {:.2} ms",
            first * 1e3,
            p50 * 1e3
        );
    }
    let bytes = database_bytes(&url).await;
    println!(
        "database size: {:.1} MiB, {:.0} bytes per user ({} accounts with the admin)",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / (args.users + 1) as f64,
        args.users + 1
    );

    // One session per connection, each for its own user.
    let mut cookies = Vec::new();
    for conn in 0..args.connections {
        let call = Call::new(Method::POST, "/users/api/auth").body(credential(conn % args.users));
        let (_, _, headers) = round_trip(&mut admin, port, &call).await.unwrap();
        let cookie = headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        cookies.push(cookie);
    }
    let cookies = Rc::new(cookies);
    let (_, sample, _) = round_trip(
        &mut admin,
        port,
        &Call::new(Method::GET, "/users/api/user").header("cookie", cookies[0].clone()),
    )
    .await
    .unwrap();

    // Measured with the server idle, right before the log-on phase.
    let verification = verification_secs().await;
    let parallel = parallel_hash_rate(cores).await;
    let secs = args.seconds as f64;
    let (users, conns) = (args.users, args.connections);
    println!();
    println!("| operation                          |     req/s |      p50 |      p90 |      p99 | errors |");
    println!("|------------------------------------|-----------|----------|----------|----------|--------|");
    let mut logon = drive(
        ports.clone(),
        conns,
        secs,
        Rc::new(move |c, k| {
            Call::new(Method::POST, "/users/api/auth")
                .body(credential((c + k as usize * conns) % users))
        }),
    )
    .await;
    println!("{}", logon.line("log on (POST /users/api/auth)"));
    let c2 = cookies.clone();
    let mut get = drive(
        ports.clone(),
        conns,
        secs,
        Rc::new(move |c, _| {
            Call::new(Method::GET, "/users/api/user").header("cookie", c2[c].clone())
        }),
    )
    .await;
    println!("{}", get.line("read (GET /users/api/user)"));
    let c3 = cookies.clone();
    let mut update = drive(
        ports.clone(),
        conns,
        secs,
        Rc::new(move |c, k| {
            Call::new(Method::POST, "/users/api/user")
                .header("cookie", c3[c].clone())
                .body(format!(r#"{{"title":"t{k}","tel":"{c}-{k}"}}"#))
        }),
    )
    .await;
    println!("{}", update.line("partial update (POST /users/api/user)"));
    let mut admin_update = drive(
        ports.clone(),
        conns,
        secs,
        Rc::new(move |c, k| {
            let locale = if k % 2 == 0 { "ja-jp" } else { "en-us" };
            Call::new(Method::POST, "/userapi.do?action=updateUser")
                .header("x-authorization", ADMIN_KEY)
                .body(format!(
                    r#"{{"username":"bench{}","locale":"{locale}"}}"#,
                    (c + k as usize * conns) % users
                ))
        }),
    )
    .await;
    println!("{}", admin_update.line("admin updateUser (userapi.do)"));

    // GET latency while log-ons keep every core busy hashing.
    let storm_conns = 8.min(conns);
    let storm = tokio::task::spawn_local(drive(
        ports.clone(),
        storm_conns,
        secs,
        Rc::new(move |c, k| {
            Call::new(Method::POST, "/users/api/auth")
                .body(credential((c + k as usize * 8) % users))
        }),
    ));
    let c4 = cookies.clone();
    let mut during = drive(
        ports.clone(),
        conns - storm_conns,
        secs,
        Rc::new(move |c, _| {
            Call::new(Method::GET, "/users/api/user").header("cookie", c4[c].clone())
        }),
    )
    .await;
    let mut storm = storm.await.unwrap();
    println!("{}", during.line("read during a log-on storm"));
    println!("{}", storm.line("  (the storm's log-ons)"));
    let revocation = if ports.len() > 1 {
        Some(revocation_seen_elsewhere(ports[0], ports[1]).await)
    } else {
        None
    };
    let rss = peak_rss_mib(servers[0].0.id());
    drop(servers);

    // The ceiling: the same load on a trivial route returning a JSON object of the same size.
    let echo_port = free_port();
    let _echo = Process(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--echo-server",
                &sample.len().to_string(),
                "--port",
                &echo_port.to_string(),
            ])
            .spawn()
            .expect("echo server starts"),
    );
    wait_ready(echo_port).await;
    let mut echo = drive(
        vec![echo_port],
        conns,
        secs,
        Rc::new(|_, _| Call::new(Method::GET, "/echo")),
    )
    .await;
    println!(
        "{}",
        echo.line(&format!("ceiling: fixed {}-byte JSON (axum)", sample.len()))
    );

    let ceiling = echo.latencies.len() as f64 / echo.elapsed.as_secs_f64();
    let get_rate = get.latencies.len() as f64 / get.elapsed.as_secs_f64();
    let hash_bound = cores as f64 / verification;
    let logon_rate = logon.latencies.len() as f64 / logon.elapsed.as_secs_f64();
    println!();
    if let Some(trials) = revocation {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "log off through instance A refused by instance B after (20 trials): median {:.1} ms, max {:.1} ms",
            ms(trials[trials.len() / 2]),
            ms(trials[trials.len() - 1])
        );
    }
    println!("server peak RSS: {rss:.1} MiB");
    println!(
        "GET as a fraction of the ceiling: {:.0}%",
        get_rate / ceiling * 100.0
    );
    println!("one verification: {:.1} ms", verification * 1000.0);
    println!("log on as a fraction of the hash-bound limit ({hash_bound:.0}/s = {cores} cores / one verification): {:.0}%", logon_rate / hash_bound * 100.0);
    println!("log on as a fraction of {cores} verification loops run side by side here ({parallel:.0}/s): {:.0}%", logon_rate / parallel * 100.0);
}

/// Starts `roster serve` on `url`, listening on `port`.
fn serve(url: &str, port: u16) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_roster"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                url,
            ])
            .env("ROSTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("ROSTER_ADMIN_KEY", ADMIN_KEY)
            // `BENCH_SERVER_LOG=roster::store=debug` shows each group commit's size and time.
            .env(
                "ROSTER_LOG",
                std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("roster starts"),
    )
}

/// 20 trials, sorted: log on through A, read through B (B caches the session), log off
/// through A, then read through B as fast as it answers until it refuses; the time from
/// A's reply to the log off to B's first refusal.
async fn revocation_seen_elsewhere(a: u16, b: u16) -> Vec<Duration> {
    let (mut to_a, mut to_b) = (connect(a).await, connect(b).await);
    let mut trials = Vec::new();
    for trial in 0..20 {
        let call = Call::new(Method::POST, "/users/api/auth").body(credential(trial));
        let (status, _, headers) = round_trip(&mut to_a, a, &call).await.expect("log on");
        assert_eq!(status, StatusCode::OK);
        let cookie = headers["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let read = Call::new(Method::GET, "/users/api/user").header("cookie", cookie.clone());
        let (status, _, _) = round_trip(&mut to_b, b, &read).await.expect("read");
        assert_eq!(status, StatusCode::OK, "B serves A's session");
        let log_off = Call::new(Method::POST, "/users/api/logout").header("cookie", cookie);
        let (status, _, _) = round_trip(&mut to_a, a, &log_off).await.expect("log off");
        assert_eq!(status, StatusCode::OK);
        let ended = Instant::now();
        loop {
            let (status, _, _) = round_trip(&mut to_b, b, &read).await.expect("read");
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(
                ended.elapsed() < Duration::from_secs(5),
                "B never refused it"
            );
        }
        trials.push(ended.elapsed());
    }
    trials.sort();
    trials
}

/// Writes `users` accounts to a JSON-lines file and loads it with the release binary's
/// `roster import`; the seconds the import took.
async fn import_users(url: &str, dir: &std::path::Path, users: usize) -> f64 {
    use std::io::Write;
    let hasher = roster::auth::Hasher::new(19456, 2, 1, None, 1).unwrap();
    let hash = hasher.hash(PASSWORD).await.unwrap();
    let path = dir.join("users.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..users {
        writeln!(
            file,
            r#"{{"username":"bench{i}","email":"bench{i}@example.com","password_hash":"{hash}","firstname":"B","lastname":"U"}}"#
        )
        .unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["import", &path.display().to_string(), "--database-url", url])
        .env("ROSTER_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .expect("roster import runs");
    let secs = start.elapsed().as_secs_f64();
    assert!(status.success(), "roster import failed");
    let _ = std::fs::remove_file(&path);
    secs
}

/// The first and the median latency of 30 `getUsers` calls at `offset`, seconds.
async fn get_users_latency(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    port: u16,
    offset: usize,
) -> (f64, f64) {
    let call = Call::new(
        Method::GET,
        format!("/userapi.do?action=getUsers&offset={offset}&limit=100"),
    )
    .header("x-authorization", ADMIN_KEY);
    let mut samples = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        let (status, body, _) = round_trip(sender, port, &call).await.expect("getUsers");
        samples.push(start.elapsed().as_secs_f64());
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
    let first = samples[0];
    samples.sort_by(f64::total_cmp);
    (first, samples[samples.len() / 2])
}

/// The size of the database the server runs on, bytes.
async fn database_bytes(url: &str) -> i64 {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        let (bytes,): (i64,) = sqlx::query_as(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        bytes
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        let (bytes,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
            .fetch_one(&mut db)
            .await
            .unwrap();
        bytes
    }
}

/// Verifications per second with `cores` verifications always in flight and nothing else
/// running: what the hardware gives when every core hashes at once.
async fn parallel_hash_rate(cores: usize) -> f64 {
    let hasher = roster::auth::Hasher::new(19456, 2, 1, None, cores).unwrap();
    let hash = hasher.hash(PASSWORD).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let started = Instant::now();
    let mut loops = Vec::new();
    for _ in 0..cores {
        let (hasher, hash) = (hasher.clone(), hash.clone());
        loops.push(tokio::task::spawn_local(async move {
            let mut n = 0u32;
            while Instant::now() < deadline {
                hasher.verify(PASSWORD, Some(&hash)).await.unwrap();
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for l in loops {
        total += l.await.unwrap();
    }
    f64::from(total) / started.elapsed().as_secs_f64()
}

/// One Argon2id verification at the server's default parameters, measured here.
async fn verification_secs() -> f64 {
    let hasher = roster::auth::Hasher::new(19456, 2, 1, None, 1).unwrap();
    let hash = hasher.hash(PASSWORD).await.unwrap();
    let mut samples: Vec<f64> = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        hasher.verify(PASSWORD, Some(&hash)).await.unwrap();
        samples.push(start.elapsed().as_secs_f64());
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// `--echo-server SIZE --port P`: a plain axum server answering `GET /echo` with a fixed JSON
/// object of SIZE bytes (and `/healthz`), on the default multi-thread runtime.
fn echo_server(size: usize) {
    let port: u16 = std::env::args()
        .skip_while(|a| a != "--port")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let padding = "x".repeat(size.saturating_sub(r#"{"ok":true,"status":"","data":null}"#.len()));
    let body: &'static str =
        Box::leak(format!(r#"{{"ok":true,"status":"{padding}","data":null}}"#).into_boxed_str());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let app = axum::Router::new()
            .route(
                "/echo",
                axum::routing::get(move || async move {
                    ([("content-type", "application/json")], body)
                }),
            )
            .route("/healthz", axum::routing::get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}
