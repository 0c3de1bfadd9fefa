//! RFC 3339 UTC timestamps for everything written to disk. Whole seconds: the files are read
//! by people and diffed in git, and durations are recorded separately where they matter.

use std::fmt;
use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 timestamp (expected e.g. 2026-01-31T12:00:00Z)")]
pub struct TimestampError(pub String);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    pub fn from_datetime(t: OffsetDateTime) -> Self {
        // Truncation cannot fail: 0 is always a valid nanosecond.
        let t = t.to_offset(UtcOffset::UTC);
        Timestamp(t.replace_nanosecond(0).unwrap_or(t))
    }

    pub fn as_datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// `20260131T120000Z`: sorts like the time it stands for and is safe in file names.
    pub fn compact(&self) -> String {
        self.0
            .format(format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_else(|_| self.to_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Formatting only fails for years outside 0..=9999, which `now()` cannot produce.
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|_| TimestampError(s.to_string()))
    }
}

crate::util::text_serde::serde_as_text!(Timestamp, str::parse::<Timestamp>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_utc_whole_seconds() {
        let t: Timestamp = "2026-01-31T13:00:00.750+01:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-01-31T12:00:00Z");
        assert_eq!(t.compact(), "20260131T120000Z");
        assert_eq!(t.to_string().parse::<Timestamp>().unwrap(), t);
    }

    #[test]
    fn rejects_non_rfc3339() {
        assert!("yesterday".parse::<Timestamp>().is_err());
        assert!("2026-01-31 12:00".parse::<Timestamp>().is_err());
    }
}
