//! `--access-key-out DIR`: the one place a secret Descope hands out once (a new access key's
//! cleartext) is written. One file per key, `DIR/<name>.key`, mode 0600, never overwritten;
//! DIR is created 0700 when missing.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::execute::IssuedSecrets;
use crate::model::Address;

pub struct KeyFiles {
    dir: PathBuf,
}

impl KeyFiles {
    /// Creates DIR (0700) when missing, and refuses before any write when a file one of
    /// `addresses` would get already exists: a key must never be created with nowhere to put
    /// its secret.
    pub fn open<'a>(
        dir: &Path,
        addresses: impl IntoIterator<Item = &'a Address>,
    ) -> Result<KeyFiles, String> {
        let files = KeyFiles {
            dir: dir.to_path_buf(),
        };
        let taken: Vec<String> = addresses
            .into_iter()
            .map(|a| files.path(a))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !taken.is_empty() {
            return Err(format!(
                "--access-key-out {}: {} already exist(s) and would not be overwritten; move \
                 the file(s) away or name another directory. Nothing was written",
                dir.display(),
                taken.join(", ")
            ));
        }
        crate::util::atomic::create_private_dir_all(dir)
            .map_err(|e| format!("--access-key-out {}: {e}", dir.display()))?;
        Ok(files)
    }

    pub fn path(&self, address: &Address) -> PathBuf {
        self.dir.join(format!("{}.key", file_stem(address.key())))
    }
}

impl IssuedSecrets for KeyFiles {
    fn keep(&self, address: &Address, secret: &str) -> Result<(), String> {
        write_new_private(&self.path(address), secret.as_bytes()).map_err(|e| e.to_string())
    }

    fn place(&self, address: &Address) -> String {
        self.path(address).display().to_string()
    }
}

/// A key name as a file name: characters that could leave DIR or hide the file (`/`, `\`, a
/// leading `.`, controls, `%`) are written `%XX`, so distinct names get distinct files.
pub fn file_stem(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        let unsafe_char =
            matches!(c, '/' | '\\' | '%' | ':') || c.is_control() || (i == 0 && c == '.');
        if unsafe_char {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// Writes `bytes` to a file that must not exist yet (O_EXCL), readable by its owner only, and
/// syncs it before returning: the caller records success only after this.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Replaces `path` (`--force`) with a file readable by its owner only: written to a new
/// temporary file beside it, synced, then renamed over it.
pub fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let _ = std::fs::remove_file(&tmp);
    let result = write_new_private(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_directory() {
        assert_eq!(file_stem("ci-bot"), "ci-bot");
        assert_eq!(file_stem("../x"), "%2E.%2Fx");
        assert_eq!(file_stem("a/b"), "a%2Fb");
        assert_eq!(file_stem(".."), "%2E.");
    }

    #[test]
    fn never_overwrites_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("keys");
        let files = KeyFiles::open(&out, []).unwrap();
        let a = Address::new(crate::model::Kind::named("access_key"), "ci");
        files.keep(&a, "s3cret").unwrap();
        assert!(files.keep(&a, "other").is_err());
        assert_eq!(std::fs::read_to_string(files.path(&a)).unwrap(), "s3cret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&files.path(&a)), 0o600);
            assert_eq!(mode(&out), 0o700);
        }
        assert!(KeyFiles::open(&out, [&a]).is_err());
    }
}
