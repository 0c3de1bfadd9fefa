//! A request budget: at most N requests in any window of W seconds (docs/descope-api.md §9).
//!
//! It lives here because it models Descope's limit; descope-mgmt re-exports it, so the client's
//! `--rate-limit`, its `settings.rate_limit` and this emulator's `--rate-limit` read the same
//! grammar with one parser.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest window accepted: a day. Descope's are a minute or less.
const MAX_WINDOW_SECS: f64 = 86_400.0;

/// `N/W` or `N/Ws`: N requests (at least 1) in any W seconds (more than 0, at most a day,
/// decimals allowed, e.g. `3/1.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateBudget {
    pub requests: u32,
    pub window: Duration,
}

impl RateBudget {
    /// Descope's plain-API limit per IP (docs/descope-api.md §9).
    pub const DESCOPE: RateBudget = RateBudget {
        requests: 100,
        window: Duration::from_secs(60),
    };

    pub fn new(requests: u32, window: Duration) -> RateBudget {
        RateBudget { requests, window }
    }

    /// The budget's average rate, in requests per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.requests) / self.window.as_secs_f64()
    }
}

impl FromStr for RateBudget {
    type Err = String;

    fn from_str(text: &str) -> Result<RateBudget, String> {
        let bad = |why: &str| {
            format!(
                "invalid rate limit `{text}`: {why}; expected N/SECONDS, e.g. `90/60` (or `90/60s`) for at most 90 requests in any 60 seconds"
            )
        };
        let (n, secs) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("missing `/`"))?;
        let requests: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad("the request count is not a whole number"))?;
        if requests == 0 {
            return Err(bad("the request count must be at least 1"));
        }
        let secs = secs.trim();
        let secs = secs.strip_suffix('s').unwrap_or(secs).trim();
        // `f64::from_str` also takes "inf" and "NaN"; only plain decimals are a window.
        if secs.is_empty() || !secs.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(bad("the window is not a number of seconds"));
        }
        let secs: f64 = secs
            .parse()
            .map_err(|_| bad("the window is not a number of seconds"))?;
        if secs <= 0.0 || secs > MAX_WINDOW_SECS {
            return Err(bad(
                "the window must be more than 0 and at most 86400 seconds",
            ));
        }
        Ok(RateBudget {
            requests,
            window: Duration::from_secs_f64(secs),
        })
    }
}

impl fmt::Display for RateBudget {
    /// `90/60`, `3/1.5`: the shortest text that parses back to the same budget.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.requests, self.window.as_secs_f64())
    }
}

impl serde::Serialize for RateBudget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RateBudget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_and_display_round_trips() {
        for (text, n, ms) in [
            ("90/60", 90, 60_000),
            ("90/60s", 90, 60_000),
            (" 4 / 1s ", 4, 1_000),
            ("3/1.5", 3, 1_500),
            ("100/2", 100, 2_000),
        ] {
            let b: RateBudget = text.parse().unwrap();
            assert_eq!(b, RateBudget::new(n, Duration::from_millis(ms)), "{text}");
            assert_eq!(b.to_string().parse::<RateBudget>().unwrap(), b);
        }
        assert_eq!(RateBudget::DESCOPE.to_string(), "100/60");
        assert_eq!(
            RateBudget::new(3, Duration::from_millis(1500)).to_string(),
            "3/1.5"
        );
    }

    #[test]
    fn bad_budgets_are_refused_with_the_grammar() {
        for bad in [
            "",
            "90",
            "0/60",
            "90/0",
            "x/60",
            "90/x",
            "-1/60",
            "90/-5",
            "5/inf",
            "5/NaN",
            "90/60m",
            "90/100000",
            "1.5/60",
            "90/s",
        ] {
            let e = bad.parse::<RateBudget>().unwrap_err();
            assert!(e.contains("N/SECONDS"), "{bad}: {e}");
        }
    }

    #[test]
    fn serde_uses_the_text_form() {
        let b: RateBudget = serde_json::from_str("\"90/60s\"").unwrap();
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"90/60\"");
        assert!(serde_json::from_str::<RateBudget>("\"90\"").is_err());
    }
}
