//! `settings.branch_environments`: which environment a git branch works on, read before an
//! environment is chosen (the full load needs one), and the branch itself from git's files.

use std::path::{Path, PathBuf};

use super::types::Settings;

/// The settings' branch mapping, read from the base file alone. `None` when the file cannot
/// be read or parsed: the real load that follows reports why.
pub fn branch_settings(config: &Path) -> Option<Settings> {
    let text = std::fs::read_to_string(config).ok()?;
    let root: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).ok()?;
    let map = root.get("settings")?.get("branch_environments")?;
    Some(Settings {
        branch_environments: serde_yaml_ng::from_value::<Ordered>(map.clone()).ok()?.0,
        ..Settings::default()
    })
}

#[derive(serde::Deserialize)]
struct Ordered(#[serde(with = "super::types::branch_map")] Vec<(String, String)>);

/// The branch being worked on: CI's own variable on a pull request (`GITHUB_HEAD_REF`, since
/// the checkout there is a detached merge commit), else `.git/HEAD` of the nearest repository
/// around `dir` (a worktree's `.git` file is followed). `None` on a detached HEAD.
pub fn current_branch(dir: &Path, github_head_ref: Option<String>) -> Option<String> {
    if let Some(b) = github_head_ref.filter(|b| !b.is_empty()) {
        return Some(b);
    }
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let git = dir
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|g| g.exists())?;
    let git_dir = if git.is_file() {
        let text = std::fs::read_to_string(&git).ok()?;
        let target = PathBuf::from(text.trim().strip_prefix("gitdir:")?.trim());
        git.parent()?.join(target)
    } else {
        git
    };
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    head.trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_branch_comes_from_ci_or_the_repository_head() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/feature/x\n").unwrap();
        let deeper = dir.path().join("sub/deeper");
        assert_eq!(current_branch(&deeper, None).as_deref(), Some("feature/x"));
        assert_eq!(
            current_branch(&deeper, Some("pr-branch".into())).as_deref(),
            Some("pr-branch")
        );
        std::fs::write(dir.path().join(".git/HEAD"), "0123abcd\n").unwrap();
        assert_eq!(current_branch(&deeper, None), None);
    }
}
