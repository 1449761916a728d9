//! What one request did beyond its status, noted by the code that knows it (the log-on
//! outcome, the account) and read once the reply is made by the access log and the metrics.

use std::future::Future;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static NOTES: Arc<Notes>;
}

/// The notes of one request.
#[derive(Debug, Default)]
pub struct Notes {
    outcome: Mutex<Option<&'static str>>,
    account: Mutex<Option<i64>>,
}

impl Notes {
    /// The last security outcome noted (`logon_succeeded`, `logon_failed`, `throttled`, ...).
    pub fn outcome(&self) -> Option<&'static str> {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The account the request acted as or on, when known.
    pub fn account(&self) -> Option<i64> {
        *self.account.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `work` (a request) with `notes` as the place its outcome and account are noted.
pub async fn noting<F: Future>(notes: Arc<Notes>, work: F) -> F::Output {
    NOTES.scope(notes, work).await
}

/// Notes the request's security outcome; outside a request (the CLI) it does nothing.
pub fn note_outcome(outcome: &'static str) {
    let _ =
        NOTES.try_with(|n| *n.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome));
}

/// Notes the account the request acts as or on.
pub fn note_account(account: i64) {
    let _ =
        NOTES.try_with(|n| *n.account.lock().unwrap_or_else(|e| e.into_inner()) = Some(account));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notes_are_kept_inside_the_request_and_ignored_outside() {
        note_outcome("logon_failed");
        let notes = Arc::new(Notes::default());
        noting(notes.clone(), async {
            note_outcome("logon_succeeded");
            note_account(7);
        })
        .await;
        assert_eq!(notes.outcome(), Some("logon_succeeded"));
        assert_eq!(notes.account(), Some(7));
    }
}
