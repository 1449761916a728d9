//! Security events: one structured log line each (`target: "security"`), on at the default
//! level, beside the audit trail. They name the account by id, never by email, and carry no
//! secret; the request id comes from the request's span.

use crate::domain::Actor;

/// Logs what happened, to which account, through which dialect, from where.
pub(crate) fn security_event(event: &'static str, account: Option<i64>, actor: &Actor) {
    crate::telemetry::note_outcome(event);
    if let Some(account) = account {
        crate::telemetry::note_account(account);
    }
    tracing::info!(
        target: "security",
        event,
        account,
        dialect = actor.dialect.as_str(),
        address = actor.address.as_deref(),
    );
}
