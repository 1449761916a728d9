//! Property tests that drive the JSON handlers of both dialects with arbitrary bodies and
//! headers, in process. No case may panic, answer 500, or change anything while failing.
//! `PROPTEST_CASES=N cargo test --release --test fuzz` runs N cases per property.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::Engine;
use proptest::prelude::*;
use roster::accounts::{Accounts, FileLimits, Files, NewUser, Settings};
use roster::auth::Hasher;
use roster::domain::{Actor, Dialect, PasswordPolicy, Role};
use roster::http::{router, AppState, Limits};
use roster::store::FileStore;
use serde_json::Value;
use tower::ServiceExt;

const ADMIN_PASSWORD: &str = "Adm1n!pass-word";
const USER_PASSWORD: &str = "Us3r!pass-word";

struct Harness {
    runtime: tokio::runtime::Runtime,
    accounts: Accounts,
    files: Arc<dyn FileStore>,
    router: Router,
    _dir: tempfile::TempDir,
}

/// One server for the whole run: cheap Argon2 parameters (fuzzing the handlers, not the
/// hash), registration open so that every route is reachable.
fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
        let accounts = runtime.block_on(async {
            let store = roster::store::open(&url).await.unwrap();
            store.migrate().await.unwrap();
            let hasher = Hasher::new(64, 1, 1, None, 2).unwrap();
            let settings = Settings {
                policy: PasswordPolicy::Compat,
                token_ttl: 3600,
                session_max_age: 7200,
                locales: vec!["en-us".into(), "ja-jp".into()],
                admin_key: Some("fuzz-admin-key-0123456789".into()),
            };
            let accounts = Accounts::new(store, hasher, settings).await.unwrap();
            accounts
                .ensure_default_admin("admin@localhost", Some(ADMIN_PASSWORD.into()))
                .await
                .unwrap();
            let user = NewUser::local("fuzzer", "fuzzer@example.com", USER_PASSWORD, Role::Normal);
            accounts.create_user(user, &actor()).await.unwrap();
            accounts
        });
        let files = runtime.block_on(roster::store::files::open(&url)).unwrap();
        let limits = FileLimits {
            quota: 1 << 20,
            upload_limit: 256 << 10,
        };
        let state = AppState {
            accounts: accounts.clone(),
            secure_cookie: false,
            allow_registration: true,
            trust_proxy: true,
            files: Files::new(files.clone(), accounts.clone(), limits),
        };
        let router = router(
            state,
            Limits {
                body_limit: 64 * 1024,
                hsts: false,
            },
        );
        Harness {
            runtime,
            accounts,
            files,
            router,
            _dir: dir,
        }
    })
}

fn actor() -> Actor {
    Actor::anonymous(Dialect::Cli, None)
}

const KNOWN_KEYS: [&str; 18] = [
    "title",
    "firstname",
    "surname",
    "email",
    "use_jess",
    "jess_user",
    "jess_pwd",
    "data",
    "password",
    "newPassword",
    "username",
    "lastname",
    "locale",
    "type",
    "role",
    "jessUser",
    "jessPwd",
    "tel",
];

fn key() -> impl Strategy<Value = String> + Clone {
    prop_oneof![3 => prop::sample::select(KNOWN_KEYS.to_vec()).prop_map(str::to_owned), 1 => ".{0,12}"]
}

fn leaf() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        "[a-z]{1,8}@[a-z]{1,8}(\\.[a-z]{2,3})?".prop_map(Value::String),
        Just(Value::String("x".repeat(300))),
        Just(Value::String("Str0ng!pass".into())),
        Just(Value::String(String::new())),
    ]
}

/// Arbitrary JSON, biased towards the field names both dialects read.
fn json() -> impl Strategy<Value = Value> {
    let key = key();
    leaf().prop_recursive(4, 32, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A body: JSON, or bytes that are mostly not.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let known_object = prop::collection::vec((key(), leaf()), 0..8)
        .prop_map(|kv| Value::Object(kv.into_iter().collect()));
    prop_oneof![
        4 => known_object.prop_map(|v| v.to_string().into_bytes()),
        2 => json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => (1usize..3000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
    ]
}

/// Extra headers a hostile client might send.
fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let header = prop_oneof![
        ("[ -~]{0,30}").prop_map(|v| ("if-match".to_string(), v)),
        ("[ -~]{0,60}").prop_map(|v| ("cookie".to_string(), v)),
        ("[ -~]{0,60}").prop_map(|v| ("authorization".to_string(), v)),
        ("[ -~]{0,30}").prop_map(|v| ("content-type".to_string(), v)),
        ("[ -~]{0,30}").prop_map(|v| ("x-forwarded-for".to_string(), v)),
        ("[ -~]{0,30}").prop_map(|v| ("x-authorization".to_string(), v)),
    ];
    prop::collection::vec(header, 0..3)
}

fn send(
    method: &str,
    uri: &str,
    body: Vec<u8>,
    headers: &[(String, String)],
) -> (StatusCode, Vec<u8>) {
    let h = harness();
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let Ok(request) = request.body(Body::from(body)) else {
        return (StatusCode::BAD_REQUEST, Vec::new()); // a header value hyper itself refuses
    };
    h.runtime.block_on(async {
        let response = h.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec())
    })
}

/// Every account, fully, for before/after comparisons.
fn snapshot() -> Vec<String> {
    let h = harness();
    h.runtime.block_on(async {
        let (accounts, _) = h
            .accounts
            .list_users(&h.accounts.operator(), 0, 10_000)
            .await
            .unwrap();
        accounts.iter().map(|a| format!("{a:?}")).collect()
    })
}

/// A fresh session cookie for the fuzzing user. Cases may log off, rotate the session, or
/// change the user's email and password: the email is looked up, and a password that no
/// longer works is reset to a new one.
fn session_cookie() -> String {
    static PASSWORD: Mutex<(u64, String)> = Mutex::new((0, String::new()));
    let h = harness();
    let mut password = PASSWORD.lock().unwrap();
    if password.1.is_empty() {
        USER_PASSWORD.clone_into(&mut password.1);
    }
    h.runtime.block_on(async {
        h.accounts
            .unlock(&h.accounts.operator(), "fuzzer", &actor())
            .await
            .unwrap();
        let email = h
            .accounts
            .account_by_username("fuzzer")
            .await
            .unwrap()
            .email;
        if let Ok(issued) = h.accounts.log_on(&email, &password.1, &actor()).await {
            return format!("session_token={}", issued.token);
        }
        password.0 += 1;
        password.1 = format!("Fz!{}aA-reset", password.0);
        h.accounts
            .reset_password(&h.accounts.operator(), "fuzzer", &password.1, &actor())
            .await
            .unwrap();
        let issued = h
            .accounts
            .log_on(&email, &password.1, &actor())
            .await
            .unwrap();
        format!("session_token={}", issued.token)
    })
}

/// The two properties share one server: one case at a time, so that the before/after
/// snapshots see only their own case.
fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static CASE: Mutex<()> = Mutex::new(());
    CASE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const ENSIMS_POSTS: [&str; 9] = [
    "/users/api/auth",
    "/users/api/logon",
    "/users/api/checkin",
    "/users/api/logout",
    "/users/api/confirm",
    "/users/api/user",
    "/users/api/register",
    "/users/api/password",
    "/jess_web/api/session",
];

proptest! {
    // PROPTEST_CASES still sets the count; failures are reported, not persisted to files.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ensims_handlers_never_fail_internally(route in 0..ENSIMS_POSTS.len(), body in body(), extra in headers()) {
        let _one_at_a_time = exclusive();
        let cookie = session_cookie();
        let before = snapshot();
        let mut all = vec![("cookie".to_string(), cookie)];
        all.extend(extra);
        let (status, reply) = send("POST", ENSIMS_POSTS[route], body, &all);
        prop_assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let reply: Value = serde_json::from_slice(&reply).expect("every reply is JSON");
        prop_assert!(reply["ok"].is_boolean() && reply["status"].is_string(), "{}", reply);
        if ENSIMS_POSTS[route] == "/users/api/user" && reply["ok"] != true {
            prop_assert_eq!(before, snapshot(), "a refused update changed something");
        }
    }

    #[test]
    fn userapi_actions_never_fail_internally(
        action in prop::sample::select(vec!["createUser", "updateUser", "changePassword", "deleteUser", "getUsers", "getAudit", "bogus"]),
        method in prop::sample::select(vec!["GET", "POST", "PUT"]),
        admin in any::<bool>(),
        body in body(),
        extra in headers(),
        query in "[a-z=&0-9%]{0,20}",
    ) {
        let _one_at_a_time = exclusive();
        let credential = if admin { format!("admin:{ADMIN_PASSWORD}") } else { format!("fuzzer:{USER_PASSWORD}") };
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credential));
        let mut all = vec![("authorization".to_string(), basic)];
        all.extend(extra.into_iter().filter(|(name, _)| name != "authorization" && name != "x-authorization"));
        harness().runtime.block_on(harness().accounts.unlock(&harness().accounts.operator(), "admin", &actor())).unwrap();
        let before = snapshot();
        let (status, reply) = send(method, &format!("/userapi.do?action={action}&{query}"), body, &all);
        prop_assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let reply: Value = serde_json::from_slice(&reply).expect("every reply is JSON");
        if status.is_client_error() && action != "createUser" {
            prop_assert!(reply["code"].is_string() && reply["error"].is_string(), "{}", reply);
            prop_assert_eq!(before, snapshot(), "a refused call changed something");
        }
    }
}

/// A path segment: plain names, and everything the path rules exist for.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z0-9_.-]{1,12}",
        1 => prop::sample::select(vec!["..", ".", "%2E%2E", "%2F", "%5C", "%5C..%5C", "%00", "%0A", "%1B", "C:", "%2Fetc", "%", "%FF%FE", "a%20b", "~"]).prop_map(str::to_owned),
        1 => Just("x".repeat(1100)),
    ]
}

/// A zip of entries with arbitrary (often hostile) names, or bytes that only look like one.
fn archive() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        "[a-z]{1,6}(/[a-z]{1,6}){0,2}/?",
        prop::sample::select(vec![
            "../up.txt",
            "/abs.txt",
            "a/../../b",
            "C:\\x",
            "a\\..\\..\\b",
            ""
        ])
        .prop_map(str::to_owned),
    ];
    let entries = prop::collection::vec((name, prop::collection::vec(any::<u8>(), 0..64)), 0..5);
    prop_oneof![
        3 => entries.prop_map(|entries| {
            let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            for (name, bytes) in entries {
                let options = zip::write::SimpleFileOptions::default();
                if let Some(folder) = name.strip_suffix('/') {
                    let _ = writer.add_directory(folder, options);
                } else if writer.start_file(name, options).is_ok() {
                    let _ = writer.write_all(&bytes);
                }
            }
            writer.finish().map(std::io::Cursor::into_inner).unwrap_or_default()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(|mut b| { b.splice(0..0, *b"PK\x03\x04"); b }),
    ]
}

/// A multipart body with `file` parts (and others) of arbitrary names and contents.
fn multipart() -> impl Strategy<Value = Vec<u8>> {
    let file_name = prop_oneof![
        "[a-z]{1,8}\\.(txt|idf)",
        Just("a.zip".to_owned()),
        prop::sample::select(vec![
            "..",
            "../../x.txt",
            "C:\\Users\\me\\win.ini",
            "/etc/passwd",
            "",
            "a\"b"
        ])
        .prop_map(str::to_owned),
    ];
    let part = (
        prop::sample::select(vec!["file", "file", "other"]),
        file_name,
        prop_oneof![archive(), prop::collection::vec(any::<u8>(), 0..300)],
    );
    prop::collection::vec(part, 0..4).prop_map(|parts| {
        let mut body = Vec::new();
        for (field, name, bytes) in parts {
            let _ = write!(body, "--fuzzb\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n\r\n");
            body.extend_from_slice(&bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--fuzzb--\r\n");
        body
    })
}

/// Every stored path of both accounts: the fuzzer's must be normalised, the admin's empty.
fn stored_paths() -> (Vec<String>, usize) {
    let h = harness();
    h.runtime.block_on(async {
        let fuzzer = h.accounts.account_by_username("fuzzer").await.unwrap().id;
        let admin = h.accounts.account_by_username("admin").await.unwrap().id;
        let mine = h.files.entries(fuzzer, "").await.unwrap();
        let others = h.files.entries(admin, "").await.unwrap();
        (mine.into_iter().map(|r| r.path).collect(), others.len())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn files_routes_never_fail_internally_nor_store_outside_the_area(
        method in prop::sample::select(vec!["GET", "POST", "DELETE"]),
        segments in prop::collection::vec(segment(), 0..4),
        trailing in any::<bool>(),
        form in prop_oneof![3 => multipart(), 1 => prop::collection::vec(any::<u8>(), 0..200)],
        multipart_type in any::<bool>(),
    ) {
        let _one_at_a_time = exclusive();
        let cookie = session_cookie();
        let mut uri = format!("/users/api/files/{}", segments.join("/"));
        if trailing { uri.push('/'); }
        let mut headers = vec![("cookie".to_string(), cookie)];
        if multipart_type {
            headers.push(("content-type".into(), "multipart/form-data; boundary=fuzzb".into()));
        }
        let (status, reply) = send(method, &uri, form, &headers);
        prop_assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let download = method == "GET" && status == StatusCode::OK && serde_json::from_slice::<Value>(&reply).map_or(true, |v| v.get("fileName").is_none());
        if !download {
            let reply: Value = serde_json::from_slice(&reply).expect("every reply is JSON");
            prop_assert!(reply.get("fileName").is_some() || (reply["ok"].is_boolean() && reply["status"].is_string()), "{}", reply);
        }
        let (paths, others) = stored_paths();
        prop_assert_eq!(others, 0, "nothing lands in another account's area");
        for path in paths {
            let normal = roster::accounts::files::path::normalise(&path).ok();
            prop_assert_eq!(normal.as_deref(), Some(path.as_str()), "a stored path is normalised");
            prop_assert!(!path.is_empty() && path.len() <= 1024);
        }
    }
}
