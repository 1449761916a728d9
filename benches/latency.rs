//! `cargo bench --bench latency`: the cost of one password verification at the default
//! Argon2id parameters, and `GET /users/api/user` latency alone and during log-on storms.

use std::time::{Duration, Instant};

use roster::app::App;
use roster::auth::Hasher;
use roster::config::Config;

const ADMIN_PASSWORD: &str = "Adm1n!pass-word";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "n={} p50={:.2?} p90={:.2?} p99={:.2?} max={:.2?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    )
}

async fn verification_time() {
    let hasher = Hasher::new(19456, 2, 1, None, 1).unwrap();
    let hash = hasher.hash("S3cure!pass").await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        hasher.verify("S3cure!pass", Some(&hash)).await.unwrap();
        samples.push(start.elapsed());
    }
    println!(
        "argon2id verify (m=19456 KiB, t=2, p=1): {}",
        summary(samples)
    );
}

async fn get_latency(client: &reqwest::Client, url: &str, cookie: &str, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let reply = client
            .get(url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success());
        reply.bytes().await.unwrap();
        samples.push(start.elapsed());
    }
    samples
}

#[tokio::main]
async fn main() {
    verification_time().await;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let mut config = Config::for_tests("127.0.0.1:0".parse().unwrap(), &url);
    config.admin_password = Some(ADMIN_PASSWORD.into());
    config.trust_proxy = true;
    let app = App::build(config).await.unwrap();
    let accounts = app.accounts().clone();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.serve(std::future::pending()));

    let client = reqwest::Client::new();
    let body = format!(r#"{{"email":"admin@localhost","password":"{ADMIN_PASSWORD}"}}"#);
    let logon = client
        .post(format!("{base}/users/api/auth"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let cookie = logon.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let user_url = format!("{base}/users/api/user");

    get_latency(&client, &user_url, &cookie, 200).await; // warm up
    println!(
        "GET /users/api/user, idle:           {}",
        summary(get_latency(&client, &user_url, &cookie, 1000).await)
    );

    // Keep 8 log-ons in flight the whole time the GETs are measured.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut storm = Vec::new();
    for _ in 0..8 {
        let (client, url, body, stop) = (
            client.clone(),
            format!("{base}/users/api/auth"),
            body.clone(),
            stop.clone(),
        );
        storm.push(tokio::spawn(async move {
            let mut done = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                client
                    .post(&url)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                done += 1;
            }
            done
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let during = get_latency(&client, &user_url, &cookie, 1000).await;
    let elapsed = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut logons = 0;
    for task in storm {
        logons += task.await.unwrap();
    }
    println!(
        "GET /users/api/user, 8 log-ons in flight: {}",
        summary(during)
    );
    println!("log-ons completed meanwhile: {logons} in {elapsed:.2?}");

    enumeration(&client, &base, &accounts).await;
}

/// Unknown email vs wrong password, interleaved: each attempt on its own account and its own forwarded
/// address, so that throttling never answers in place of the password check.
async fn enumeration(client: &reqwest::Client, base: &str, accounts: &roster::accounts::Accounts) {
    const N: usize = 400;
    let actor = roster::domain::Actor::anonymous(roster::domain::Dialect::Cli, None);
    for i in 0..N {
        let user = roster::accounts::NewUser::local(
            &format!("enum{i}"),
            &format!("enum{i}@example.com"),
            "S3cure!pass",
            roster::domain::Role::Normal,
        );
        accounts.create_user(user, &actor).await.unwrap();
    }
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..N {
        for (kind, email) in [
            (0, format!("nobody{i}@example.com")),
            (1, format!("enum{i}@example.com")),
        ] {
            let body = format!(r#"{{"email":"{email}","password":"Wr0ng!guess"}}"#);
            let forwarded = format!("10.{kind}.{}.{}", i / 250, i % 250);
            let start = Instant::now();
            let reply = client
                .post(format!("{base}/users/api/auth"))
                .header("x-forwarded-for", forwarded)
                .body(body)
                .send()
                .await
                .unwrap();
            let text = reply.text().await.unwrap();
            let took = start.elapsed();
            assert!(
                text.contains("No matching username and password pair was found!"),
                "{text}"
            );
            if kind == 0 {
                unknown.push(took);
            } else {
                wrong.push(took);
            }
        }
    }
    unknown.sort();
    wrong.sort();
    let (u, w) = (percentile(&unknown, 0.5), percentile(&wrong, 0.5));
    let diff = (u.as_secs_f64() - w.as_secs_f64()).abs() / w.as_secs_f64() * 100.0;
    println!("log on, unknown email:  median {u:.2?} (n={N})");
    println!("log on, wrong password: median {w:.2?} (n={N})");
    println!("difference of the medians: {diff:.1}%");
}
