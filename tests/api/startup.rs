// Faults at start and in the admin CLI, through the binary (SQLite: they are about files).

use std::time::Duration;

use roster::domain::{Actor, AuditRecord, Dialect};

use crate::binary::serve;

const ADMIN: (&str, &str) = ("ROSTER_ADMIN_PASSWORD", "Adm1n!pass-word");

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("roster.db").display())
}

/// Starts `roster serve ARGS` on a fresh directory; asserts it fails mentioning `expected`
/// and leaves no database file behind.
fn refused_without_a_trace(args: &[&str], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let envs = [("ROSTER_DATABASE_URL", url.as_str()), ADMIN];
    let failed = serve(dir.path(), &envs, args)
        .err()
        .expect("the start fails");
    assert!(failed.contains(expected), "{args:?}: {failed}");
    assert!(!failed.contains("exit status: 0"), "{failed}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{args:?} left {left:?}");
}

#[tokio::test]
async fn audit_retention_of_zero_days_is_refused_with_the_range() {
    refused_without_a_trace(
        &["--audit-retention-days", "0"],
        "--audit-retention-days must be at least 1",
    );
}

#[tokio::test]
async fn a_purge_that_removes_more_than_usual_is_logged_with_count_and_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = roster::store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    let old = roster::accounts::now() - 400 * 86_400;
    for n in 0..150 {
        let record = AuditRecord {
            at: old + n,
            actor: Actor::anonymous(Dialect::System, None),
            action: "logon_failed".into(),
            account_id: None,
            username: Some(format!("u{n}")),
            changes: vec![],
        };
        store.record_audit(&record).await.unwrap();
    }
    drop(store);
    let envs = [("ROSTER_DATABASE_URL", url.as_str()), ADMIN];
    let mut server = serve(dir.path(), &envs, &["--audit-retention-days", "365"]).unwrap();
    let line = server
        .wait_for("audit records older than", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no purge warning: {}", server.log));
    let cutoff = roster::accounts::rfc3339(roster::accounts::now() - 365 * 86_400);
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("purged 150 audit records"), "{line}");
    assert!(line.contains(&cutoff[..10]), "{line} should name {cutoff}");
}
