//! Reading and purging the audit trail.

use super::permissions::Admin;
use super::{now, Accounts, Error, Result};
use crate::domain::{AuditRecord, FieldError, Username};

/// The most records one read returns.
pub const AUDIT_PAGE_MAX: i64 = 1000;

impl Accounts {
    /// Audit records, newest first: of one user name (any case) and/or since a time. A name
    /// matches the records written under it, so a deleted account's records are found too;
    /// `NotFound` only when neither an account nor any record has that name.
    pub async fn audit(
        &self,
        _: &Admin,
        username: Option<&str>,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        if let Some(name) = username {
            Username::parse(name)
                .map_err(|_| Error::Invalid(FieldError::new("username", "has an invalid value")))?;
        }
        let limit = limit.clamp(1, AUDIT_PAGE_MAX);
        let records = self.store.audit_records(username, since, limit).await?;
        if let (Some(name), true) = (username, records.is_empty()) {
            let account = match self.account_by_username(name).await {
                Ok(_) => true,
                Err(Error::NotFound) => false,
                Err(e) => return Err(e),
            };
            if !account && !self.store.audit_name_known(name).await? {
                return Err(Error::NotFound);
            }
        }
        Ok(records)
    }

    /// Deletes expired sessions and audit records older than `retention_days`.
    pub async fn purge_expired(&self, retention_days: u32) -> Result<Purged> {
        let now = now();
        let cutoff = now - i64::from(retention_days) * 86_400;
        let sessions = self.store.purge_sessions(now).await?;
        let records = self.store.purge_audit(cutoff).await?;
        Ok(Purged {
            sessions,
            records,
            cutoff,
        })
    }
}

/// What one purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Expired sessions deleted.
    pub sessions: u64,
    /// Audit records deleted.
    pub records: u64,
    /// The records deleted were older than this (unix seconds).
    pub cutoff: i64,
}

/// Audit records one purge may remove before it is worth a warning.
pub const LARGE_PURGE: u64 = 100;

/// Whether a purge removed more audit records than purges normally do: more than
/// [`LARGE_PURGE`] and more than twice the previous purge of this process. The hourly purge of
/// a running server removes one hour's worth; a first purge after a long stop or after the
/// retention was shortened removes far more, and an operator should see that.
pub fn unusual_purge(records: u64, previous: Option<u64>) -> bool {
    records > LARGE_PURGE.max(previous.unwrap_or(0).saturating_mul(2))
}

/// A unix time as RFC 3339 (UTC).
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Parses an RFC 3339 time into unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_large_purge_or_a_jump_is_unusual_and_a_steady_one_is_not() {
        assert!(!unusual_purge(LARGE_PURGE, None));
        assert!(unusual_purge(LARGE_PURGE + 1, None));
        assert!(!unusual_purge(500, Some(400)));
        assert!(unusual_purge(900, Some(400)));
    }

    #[test]
    fn rfc3339_round_trips_and_accepts_offsets() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
