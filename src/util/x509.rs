//! The one thing this tool asks of a certificate: when it stops being valid. Whether it is a
//! good certificate is Descope's to judge; an expired one (or one about to expire) is worth a
//! warning before it locks a customer out.

use x509_cert::der::Decode;

/// Warn when a certificate expires within this many days.
pub const WARN_DAYS: u64 = 30;

/// The DER bytes inside a PEM `CERTIFICATE` block, if the text is one.
fn der_of(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    decode_base64(&body)
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in bytes {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Seconds since the epoch at which the certificate stops being valid; `None` when the text
/// does not parse as an X.509 certificate.
pub fn not_after(pem: &str) -> Option<u64> {
    let der = der_of(pem)?;
    let cert = x509_cert::Certificate::from_der(&der).ok()?;
    Some(
        cert.tbs_certificate
            .validity
            .not_after
            .to_unix_duration()
            .as_secs(),
    )
}

/// "expired on …" / "expires on … (in N days)" when it is within [`WARN_DAYS`] of `now`.
pub fn expiry_warning_at(pem: &str, now: u64) -> Option<String> {
    let end = not_after(pem)?;
    let date = time::OffsetDateTime::from_unix_timestamp(end as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| end.to_string());
    if end <= now {
        Some(format!("the SAML certificate expired on {date}"))
    } else if end - now <= WARN_DAYS * 86_400 {
        let days = (end - now) / 86_400;
        Some(format!(
            "the SAML certificate expires on {date} (in {days} days)"
        ))
    } else {
        None
    }
}

pub fn expiry_warning(pem: &str) -> Option<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    expiry_warning_at(pem, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOON: &str = include_str!("../../tests/fixtures/certs/expires-2030-06-15.pem");
    const EXPIRED: &str = include_str!("../../tests/fixtures/certs/expired.pem");

    #[test]
    fn warns_within_thirty_days_and_after_expiry() {
        let end = not_after(SOON).unwrap();
        assert_eq!(
            expiry_warning_at(SOON, end - 10 * 86_400).as_deref(),
            Some("the SAML certificate expires on 2030-06-15T00:00:00Z (in 10 days)")
        );
        assert_eq!(expiry_warning_at(SOON, end - 31 * 86_400), None);
        assert!(expiry_warning(EXPIRED)
            .unwrap()
            .contains("expired on 2021-01-01"));
        // Not X.509 at all: nothing to say (the PEM check is the config's).
        assert_eq!(
            expiry_warning("-----BEGIN CERTIFICATE-----\naGk=\n-----END CERTIFICATE-----"),
            None
        );
    }
}
