// The pepper's fingerprint: a server or CLI with a missing or different pepper refuses to
// start, through the binary.

use crate::binary::{logs_on, run, serve, text};
use crate::helpers::fresh_store;

use super::BACKEND;

const ADMIN: (&str, &str) = ("ROSTER_ADMIN_PASSWORD", "Adm1n!pass-word");

#[tokio::test]
async fn a_server_refuses_to_start_without_its_pepper_or_with_another() {
    let (url, dir) = fresh_store(BACKEND).await;
    let db = ("ROSTER_DATABASE_URL", url.as_str());
    let with_a = [db, ADMIN, ("ROSTER_PASSWORD_PEPPER", "pepper-A")];
    serve(dir.path(), &with_a, &[]).expect("starts with A").stop();

    let without = serve(dir.path(), &[db, ADMIN], &[]).err().expect("refused");
    assert!(
        without.contains("hashed with a pepper, and none is configured")
            && without.contains("--password-pepper-file")
            && without.contains("ROSTER_PASSWORD_PEPPER"),
        "{without}"
    );
    let with_b = [db, ADMIN, ("ROSTER_PASSWORD_PEPPER", "pepper-B")];
    let other = serve(dir.path(), &with_b, &[]).err().expect("refused");
    assert!(other.contains("pepper differs"), "{other}");

    let file = dir.path().join("pepper");
    std::fs::write(&file, "pepper-A\n").unwrap();
    let path = file.display().to_string();
    let by_file = serve(dir.path(), &[db, ADMIN], &["--password-pepper-file", &path]);
    assert!(by_file.is_ok(), "the same pepper from a file: {:?}", by_file.err());
}

#[tokio::test]
async fn a_server_without_a_pepper_refuses_one_later() {
    let (url, dir) = fresh_store(BACKEND).await;
    let db = ("ROSTER_DATABASE_URL", url.as_str());
    serve(dir.path(), &[db, ADMIN], &[]).expect("starts").stop();
    let with_a = [db, ADMIN, ("ROSTER_PASSWORD_PEPPER", "pepper-A")];
    let refused = serve(dir.path(), &with_a, &[]).err().expect("refused");
    assert!(refused.contains("hashed without a pepper"), "{refused}");
}

#[tokio::test]
async fn the_cli_refuses_another_pepper_and_its_users_log_on_with_the_same() {
    let (url, dir) = fresh_store(BACKEND).await;
    let db = ("ROSTER_DATABASE_URL", url.as_str());
    let a = ("ROSTER_PASSWORD_PEPPER", "pepper-A");
    let server = serve(dir.path(), &[db, ADMIN, a], &[]).expect("starts with A");
    let add = |envs: &[(&str, &str)]| {
        let args = ["user", "add", "--username", "cli.user", "--email", "cli@example.com"];
        run(dir.path(), envs, &args, "Cl1!secret\n")
    };
    let b = ("ROSTER_PASSWORD_PEPPER", "pepper-B");
    for envs in [&[db, b][..], &[db][..]] {
        let out = add(envs);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("ROSTER_PASSWORD_PEPPER"), "{}", text(&out));
    }
    let list = run(dir.path(), &[db], &["user", "list"], "");
    assert!(!list.status.success(), "{}", text(&list));
    assert!(!logs_on(&server, "cli@example.com", "Cl1!secret").await);

    let out = add(&[db, a]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(logs_on(&server, "cli@example.com", "Cl1!secret").await);
}
