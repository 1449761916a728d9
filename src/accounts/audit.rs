//! Reading and purging the audit trail.

use super::{now, Accounts, Result};
use crate::domain::AuditRecord;

/// The most records one read returns.
pub const AUDIT_PAGE_MAX: i64 = 1000;

impl Accounts {
    /// Audit records, newest first: of one existing user (any case) and/or since a time.
    pub async fn audit(
        &self,
        username: Option<&str>,
        since: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        let username = match username {
            Some(name) => Some(self.account_by_username(name).await?.username),
            None => None,
        };
        let limit = limit.clamp(1, AUDIT_PAGE_MAX);
        Ok(self
            .store
            .audit_records(username.as_deref(), since, limit)
            .await?)
    }

    /// Deletes expired sessions and audit records older than `retention_days`.
    pub async fn purge_expired(&self, retention_days: u32) -> Result<(u64, u64)> {
        let now = now();
        let sessions = self.store.purge_sessions(now).await?;
        let records = self
            .store
            .purge_audit(now - i64::from(retention_days) * 86_400)
            .await?;
        Ok((sessions, records))
    }
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
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_accepts_offsets() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
