//! Spawns the real server on 127.0.0.1:0 against a fresh store, and a small HTTP client.

use std::net::SocketAddr;

use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use roster::accounts::{Accounts, NewUser};
use roster::app::App;
use roster::config::Config;
use roster::domain::Role;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The default administrator's password in every test server.
pub const ADMIN_PASSWORD: &str = "Adm1n!pass-word";
/// A password that satisfies the default policy.
pub const PASSWORD: &str = "S3cure!pass";

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temp dir.
    Sqlite,
    /// A fresh database in the test process's PostgreSQL cluster.
    Postgres,
}

/// A fresh, empty store of `backend`; the temp dir (SQLite) must outlive its use.
pub async fn fresh_store(backend: Backend) -> (String, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = match (backend, crate::pg::cluster()) {
        (Backend::Postgres, Some(cluster)) => cluster.fresh_database().await,
        _ => format!("sqlite://{}", dir.path().join("roster.db").display()),
    };
    (url, dir)
}

/// A running server with its own store.
pub struct TestApp {
    pub addr: SocketAddr,
    pub accounts: Accounts,
    pub client: reqwest::Client,
    pub db_url: String,
    temp_dir: Option<TempDir>,
    _stop: oneshot::Sender<()>,
}

/// One reply, read completely.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The value of the `session_token` cookie that the first `Set-Cookie` sets.
    pub fn token(&self) -> String {
        let first = self
            .headers
            .get(SET_COOKIE)
            .expect("a Set-Cookie header")
            .to_str()
            .unwrap();
        let pair = first.split(';').next().unwrap();
        pair.strip_prefix("session_token=")
            .expect("the token cookie first")
            .to_owned()
    }

    /// The raw first `Set-Cookie` string.
    pub fn set_cookie(&self) -> String {
        self.headers
            .get(SET_COOKIE)
            .expect("a Set-Cookie header")
            .to_str()
            .unwrap()
            .to_owned()
    }
}

impl TestApp {
    /// A server with default settings on a fresh store.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// A server on a fresh store whose configuration `tweak` adjusts.
    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let (db_url, dir) = fresh_store(backend).await;
        let mut app = TestApp::spawn_on(&db_url, tweak).await;
        app.temp_dir = Some(dir);
        app
    }

    /// Another server on the store at `db_url` (several instances, or a restart).
    pub async fn spawn_on(db_url: &str, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let db_url = db_url.to_owned();
        let mut config = Config::for_tests("127.0.0.1:0".parse().unwrap(), &db_url);
        config.admin_password = Some(ADMIN_PASSWORD.into());
        tweak(&mut config);
        let app = App::build(config).await.expect("the app builds");
        let addr = app.local_addr();
        let accounts = app.accounts().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.serve(async {
            let _ = stopped.await;
        }));
        TestApp {
            addr,
            accounts,
            client: reqwest::Client::new(),
            db_url,
            temp_dir: None,
            _stop: stop,
        }
    }

    /// Creates a normal local account directly through the account service.
    pub async fn add_user(&self, username: &str, email: &str) {
        self.accounts
            .create_user(
                NewUser::local(username, email, PASSWORD, Role::Normal),
                &roster::domain::Actor::anonymous(roster::domain::Dialect::Cli, None),
            )
            .await
            .expect("user created");
    }

    /// The URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with an optional raw body and an optional `Cookie` header.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        cookie: Option<&str>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_owned());
        }
        if let Some(cookie) = cookie {
            req = req.header(COOKIE, cookie);
        }
        read(req.send().await.expect("the server answers")).await
    }

    /// POST a raw JSON body.
    pub async fn post(&self, path: &str, body: &str, token: Option<&str>) -> Reply {
        let cookie = token.map(|t| format!("session_token={t}"));
        self.send(Method::POST, path, Some(body), cookie.as_deref())
            .await
    }

    /// GET with the session cookie.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let cookie = token.map(|t| format!("session_token={t}"));
        self.send(Method::GET, path, None, cookie.as_deref()).await
    }

    /// `POST /users/api/auth` with a credential object.
    pub async fn try_log_on(&self, email: &str, password: &str) -> Reply {
        let body = serde_json::json!({ "email": email, "password": password }).to_string();
        self.post("/users/api/auth", &body, None).await
    }

    /// Logs on and returns the token; panics unless it succeeds.
    pub async fn log_on(&self, email: &str, password: &str) -> String {
        let reply = self.try_log_on(email, password).await;
        assert_eq!(reply.json()["ok"], true, "log on failed: {}", reply.text);
        reply.token()
    }

    /// The account object as `GET /users/api/user` shows it.
    pub async fn account(&self, token: &str) -> Value {
        let reply = self.get("/users/api/user", Some(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["data"].clone()
    }

    /// The server's store, opened afresh (tests look behind the API).
    pub async fn store(&self) -> std::sync::Arc<dyn roster::store::Store> {
        roster::store::open(&self.db_url).await.unwrap()
    }

    /// The shared signing key, to forge tokens in tests.
    pub async fn signing_key(&self) -> Vec<u8> {
        roster::store::open(&self.db_url)
            .await
            .unwrap()
            .secret("jwt-hs256", b"unused")
            .await
            .unwrap()
    }
}

/// Reads a reply completely.
pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        headers,
        text,
    }
}

/// `Basic` credential for `user:secret`.
pub fn basic(user: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

impl TestApp {
    /// Calls `/userapi.do?action=...` with an optional `Authorization` value.
    pub async fn userapi(
        &self,
        method: Method,
        query: &str,
        body: Option<&str>,
        auth: Option<&str>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, self.url(&format!("/userapi.do?{query}")));
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_owned());
        }
        if let Some(auth) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, auth);
        }
        read(req.send().await.expect("the server answers")).await
    }

    /// `GET /userapi.do?action=getUsers` with an API token as the Basic credential.
    pub async fn get_users_with_token(&self, token: &str) -> Reply {
        let auth = format!("Basic {token}");
        self.userapi(Method::GET, "action=getUsers", None, Some(&auth))
            .await
    }

    /// POST an action as the default administrator.
    pub async fn admin(&self, action: &str, body: &str) -> Reply {
        let auth = basic("admin", ADMIN_PASSWORD);
        self.userapi(
            Method::POST,
            &format!("action={action}"),
            Some(body),
            Some(&auth),
        )
        .await
    }
}

impl Reply {
    /// Asserts a `{"code","error"}` reply byte for byte.
    pub fn assert_error(&self, status: StatusCode, code: &str, message: &str) {
        let expected = serde_json::json!({ "code": code, "error": message }).to_string();
        assert_eq!(
            (self.status, self.text.as_str()),
            (status, expected.as_str()),
            "expected {code}"
        );
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(
                self.headers.get("www-authenticate").unwrap(),
                "Basic realm=\"roster\""
            );
        }
    }
}
