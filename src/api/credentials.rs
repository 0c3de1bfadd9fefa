//! Where calls go and how they authenticate: `Authorization: Bearer <projectId>:<managementKey>`
//! against the project's base URL (docs/descope-api.md §1, §2).

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct Credentials {
    pub project_id: String,
    pub management_key: Secret,
    /// Without a trailing slash.
    pub base_url: String,
}

impl Credentials {
    /// `base_url: None` applies the SDKs' regional rule.
    pub fn new(
        project_id: impl Into<String>,
        management_key: Secret,
        base_url: Option<&str>,
    ) -> Self {
        let project_id = project_id.into();
        let base_url = match base_url {
            Some(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_string(),
            _ => base_url_for_project_id(&project_id),
        };
        Credentials {
            project_id,
            management_key,
            base_url,
        }
    }

    pub fn authorization_header(&self) -> String {
        format!(
            "Bearer {}:{}",
            self.project_id,
            self.management_key.expose()
        )
    }
}

/// The SDKs' rule: ids of 32+ characters carry a region in characters 1..5.
pub fn base_url_for_project_id(project_id: &str) -> String {
    if project_id.len() >= 32 {
        if let Some(region) = project_id.get(1..5) {
            return format!("https://api.{region}.descope.com");
        }
    }
    "https://api.descope.com".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_rule_matches_the_sdks() {
        assert_eq!(
            base_url_for_project_id("Puse1xxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            "https://api.use1.descope.com"
        );
        assert_eq!(
            base_url_for_project_id("P2aAc4T2V93bddihGEx2Ryhc8e5Z"),
            "https://api.descope.com"
        );
    }

    #[test]
    fn trailing_slashes_are_trimmed_and_key_hidden() {
        let c = Credentials::new("P2x", Secret::new("K"), Some("http://127.0.0.1:9/"));
        assert_eq!(c.base_url, "http://127.0.0.1:9");
        assert!(!format!("{c:?}").contains("\"K\""));
        assert_eq!(c.authorization_header(), "Bearer P2x:K");
    }
}
