//! The one thing this tool asks of a certificate: when it stops being valid. Whether it is a
//! good certificate is Descope's to judge; an expired one (or one about to expire) is worth a
//! warning before it locks a customer out.

use x509_cert::der::Decode;

/// Warn when a certificate expires within this many days.
pub const WARN_DAYS: u64 = 30;

/// The DER bytes of a PEM certificate: `-----BEGIN CERTIFICATE-----`, a base64 body and
/// `-----END CERTIFICATE-----`, lines trimmed. The error says what is missing, for a config
/// diagnostic; the certificate itself is Descope's to judge.
pub fn pem_der(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let body = text
        .trim()
        .strip_prefix("-----BEGIN CERTIFICATE-----")
        .and_then(|t| t.strip_suffix("-----END CERTIFICATE-----"))
        .ok_or("not a PEM certificate: it must start with `-----BEGIN CERTIFICATE-----` and end with `-----END CERTIFICATE-----`")?;
    let b64: String = body.split_whitespace().collect();
    if b64.is_empty() {
        return Err("the PEM certificate has no body".into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "the PEM certificate's body is not base64".to_string())
}

/// Seconds since the epoch at which the certificate stops being valid; `None` when the text
/// does not parse as an X.509 certificate.
pub fn not_after(pem: &str) -> Option<u64> {
    let der = pem_der(pem).ok()?;
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
