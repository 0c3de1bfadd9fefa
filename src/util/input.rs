//! Reading the files a configuration names, bounded: only regular files, only up to a size
//! limit, and (for paths written in the configuration) only inside the configuration's
//! directory. CI runs `plan` on pull requests, so these paths are untrusted input: a FIFO must
//! not block, `/dev/zero` must not exhaust memory, and `../../home/runner/.ssh/id_rsa` must not
//! end up in a plan or a pull-request comment (docs/config.md, Files the configuration names).

use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

const MIB: u64 = 1024 * 1024;

/// What a file is, for its limit and for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFile {
    Config,
    Overlay,
    /// A flow or theme document.
    Document,
    Certificate,
    /// A text file the configuration names: the FGA schema's DSL, a list's items.
    Text,
}

impl InputFile {
    /// The most bytes read; documented in docs/config.md.
    pub fn limit(self) -> u64 {
        match self {
            InputFile::Config | InputFile::Overlay => 4 * MIB,
            InputFile::Document => 16 * MIB,
            InputFile::Certificate => 64 * 1024,
            InputFile::Text => 4 * MIB,
        }
    }

    fn name(self) -> &'static str {
        match self {
            InputFile::Config => "configuration",
            InputFile::Overlay => "overlay",
            InputFile::Document => "flow and theme",
            InputFile::Certificate => "certificate",
            InputFile::Text => "schema and list item",
        }
    }
}

#[derive(Debug)]
pub enum InputError {
    NotFound(PathBuf),
    NotRegular {
        path: PathBuf,
        what: InputFile,
        is: &'static str,
    },
    TooLarge {
        path: PathBuf,
        what: InputFile,
    },
    Outside {
        path: PathBuf,
        dir: PathBuf,
        what: InputFile,
    },
    Io(PathBuf, std::io::Error),
}

impl InputError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::NotFound(_))
    }
}

fn size(bytes: u64) -> String {
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::NotFound(p) => write!(f, "`{}` cannot be read: no such file", p.display()),
            InputError::NotRegular { path, what, is } => write!(
                f,
                "`{}` is {is}, not a regular file; {} files are read only when they are regular files",
                path.display(),
                what.name()
            ),
            InputError::TooLarge { path, what } => write!(
                f,
                "`{}` is larger than the {} limit for {} files",
                path.display(),
                size(what.limit()),
                what.name()
            ),
            InputError::Outside { path, dir, what } => write!(
                f,
                "`{}` is outside the configuration's directory `{}`; {} files must be inside it",
                path.display(),
                dir.display(),
                what.name()
            ),
            InputError::Io(p, e) => write!(f, "`{}` cannot be read: {}", p.display(), reason(e)),
        }
    }
}

fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

/// The bytes of `path` if it is a regular file within `what`'s limit.
pub fn read(path: &Path, what: InputFile) -> Result<Vec<u8>, InputError> {
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            InputError::NotFound(path.to_path_buf())
        } else {
            InputError::Io(path.to_path_buf(), e)
        }
    };
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(InputError::NotRegular {
            path: path.to_path_buf(),
            what,
            is: kind_of(&meta),
        });
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Swapped for a FIFO between the check and the open, it still does not block.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(InputError::NotRegular {
            path: path.to_path_buf(),
            what,
            is: kind_of(&meta),
        });
    }
    let limit = what.limit();
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            what,
        });
    }
    // The length can grow while reading: never read more than the limit and one byte.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            what,
        });
    }
    Ok(bytes)
}

/// `rel` (a path written in the configuration) resolved against `base_dir`, refused unless it
/// stays inside `base_dir` once `..` and symbolic links are resolved.
pub fn inside(base_dir: &Path, rel: &str, what: InputFile) -> Result<PathBuf, InputError> {
    let joined = base_dir.join(rel);
    let dir = if base_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base_dir
    };
    let outside = || InputError::Outside {
        path: joined.clone(),
        dir: dir.to_path_buf(),
        what,
    };
    let rel_path = Path::new(rel);
    if rel_path.is_absolute()
        || rel_path
            .components()
            .any(|c| matches!(c, Component::Prefix(_)))
    {
        return Err(outside());
    }
    let canonical_dir = dir
        .canonicalize()
        .map_err(|e| InputError::Io(dir.to_path_buf(), e))?;
    match joined.canonicalize() {
        Ok(p) if p.starts_with(&canonical_dir) => Ok(joined),
        Ok(_) => Err(outside()),
        // Not there (reported as missing by the read): its nearest existing ancestor must be
        // inside, so a symbolic link out of the directory is refused either way.
        Err(_) => {
            let mut ancestor = joined.parent();
            while let Some(a) = ancestor {
                if let Ok(p) = a.canonicalize() {
                    return if p.starts_with(&canonical_dir) && !leaves(rel_path) {
                        Ok(joined.clone())
                    } else {
                        Err(outside())
                    };
                }
                ancestor = a.parent();
            }
            Err(outside())
        }
    }
}

/// Does a `..` take the path above where it started?
fn leaves(rel: &Path) -> bool {
    let mut depth = 0i32;
    for c in rel.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.json");
        std::fs::write(&ok, b"{}").unwrap();
        assert_eq!(read(&ok, InputFile::Document).unwrap(), b"{}");

        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; 64 * 1024 + 1]).unwrap();
        let e = read(&big, InputFile::Certificate).unwrap_err();
        assert!(e.to_string().contains("64 KiB"), "{e}");
        assert!(e.to_string().contains("big.pem"), "{e}");

        let e = read(dir.path(), InputFile::Document).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        assert!(read(&dir.path().join("none"), InputFile::Document)
            .unwrap_err()
            .is_not_found());
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_without_reading() {
        let e = read(Path::new("/dev/zero"), InputFile::Overlay).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
    }

    #[test]
    fn paths_stay_inside_the_configuration_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("flows")).unwrap();
        std::fs::write(dir.path().join("flows/a.json"), b"{}").unwrap();
        assert!(inside(dir.path(), "flows/a.json", InputFile::Document).is_ok());
        assert!(inside(dir.path(), "flows/../flows/a.json", InputFile::Document).is_ok());
        assert!(inside(dir.path(), "flows/missing.json", InputFile::Document).is_ok());
        for bad in ["/etc/passwd", "../x.json", "flows/../../x.json"] {
            let e = inside(dir.path(), bad, InputFile::Document).unwrap_err();
            assert!(e.to_string().contains("outside"), "{bad}: {e}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", dir.path().join("flows/etc")).unwrap();
            assert!(inside(dir.path(), "flows/etc/hostname", InputFile::Document).is_err());
        }
    }
}
