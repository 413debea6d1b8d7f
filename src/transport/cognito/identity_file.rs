//! Where the Cognito provider keeps its identity id: a one-line text file
//! next to the store, `<store>.cognito-identity`, owner-only:
//! `<identity pool id> <identity id> [<login provider>...]`. Pool ids,
//! identity ids and provider names never contain spaces. One pool per store
//! (an app has one); an identity of another pool is ignored and replaced.
//!
//! A sibling file rather than a table of the store: the store has exactly
//! one writer (the recorder's writer thread) and one process holding its
//! exclusive lock, while the provider runs on the worker and the CLI's
//! `status` reads the id without opening a recorder. The file is written a
//! few times per install (when Cognito gives a new identity), through a
//! temporary file renamed over it, so it needs none of the store's
//! machinery; a file lost or torn in a crash costs one `GetId`, nothing
//! else. Only the process holding the store's lock writes it (the recorder
//! binds its provider once the store is open). It lives in the store's
//! directory (no backup on Android) and holds no secret: the credentials
//! never leave memory.

use std::io::Write;

/// An identity, and the login providers it was used with (provider names
/// only, never tokens): an identity with linked logins can only be used
/// with one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub identity_id: String,
    pub login_providers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdentityFile {
    path: String,
}

impl IdentityFile {
    pub fn next_to(database_path: &str) -> Self {
        IdentityFile {
            path: format!("{database_path}.cognito-identity"),
        }
    }

    /// The pool and the identity kept; none when the file is missing or
    /// unreadable.
    pub fn read(&self) -> Option<(String, Identity)> {
        // Read as the store reads its header (one copy of that code in the
        // library); the file is one short line.
        let mut bytes = Vec::new();
        std::fs::File::open(&self.path)
            .and_then(|file| std::io::Read::read_to_end(&mut std::io::Read::take(file, 64 * 1024), &mut bytes))
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut words = text.split_whitespace().map(str::to_owned);
        let pool = words.next()?;
        let identity_id = words.next()?;
        Some((
            pool,
            Identity {
                identity_id,
                login_providers: words.collect(),
            },
        ))
    }

    /// The identity kept for `pool`.
    pub fn get(&self, pool: &str) -> Option<Identity> {
        self.read().filter(|(p, _)| p == pool).map(|(_, identity)| identity)
    }

    /// Keeps `identity` for `pool`, or (with `None`) forgets it.
    pub fn set(&self, pool: &str, identity: Option<&Identity>) -> std::io::Result<()> {
        let Some(identity) = identity else {
            return match std::fs::remove_file(&self.path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            };
        };
        let mut line = format!("{pool} {}", identity.identity_id);
        for provider in &identity.login_providers {
            line.push(' ');
            line.push_str(provider);
        }
        line.push('\n');
        let temporary = format!("{}.tmp", self.path);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&temporary)?.write_all(line.as_bytes())?;
        std::fs::rename(&temporary, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(id: &str, providers: &[&str]) -> Identity {
        Identity {
            identity_id: id.into(),
            login_providers: providers.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn file_in(dir: &tempfile::TempDir) -> IdentityFile {
        IdentityFile::next_to(dir.path().join("records.db").to_str().unwrap())
    }

    #[test]
    fn keeps_the_identity_of_one_pool() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_in(&dir);
        assert_eq!(file.read(), None, "no file yet");
        file.set("us-east-1:pool-a", Some(&identity("us-east-1:id-a", &[])))
            .unwrap();
        assert_eq!(file.get("us-east-1:pool-a"), Some(identity("us-east-1:id-a", &[])));
        assert_eq!(
            file.get("us-east-1:pool-b"),
            None,
            "another pool's identity is not used"
        );
        let providers = ["cognito-idp.us-east-1.amazonaws.com/us-east-1_X", "accounts.google.com"];
        file.set("us-east-1:pool-b", Some(&identity("us-east-1:id-b", &providers)))
            .unwrap();
        assert_eq!(
            file.get("us-east-1:pool-b"),
            Some(identity("us-east-1:id-b", &providers))
        );
        assert_eq!(file.get("us-east-1:pool-a"), None, "replaced");
        assert!(!dir.path().join("records.db.cognito-identity.tmp").exists(), "renamed");
        file.set("us-east-1:pool-b", None).unwrap();
        assert_eq!(file.read(), None);
        file.set("us-east-1:pool-b", None).unwrap();
    }

    #[test]
    fn an_unreadable_file_is_no_identity() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_in(&dir);
        let path = dir.path().join("records.db.cognito-identity");
        for bad in [&b""[..], b"only-a-pool\n", &[0xff, 0xfe, b' ', b'x']] {
            std::fs::write(&path, bad).unwrap();
            assert_eq!(file.read(), None, "{bad:?}");
        }
        file.set("us-east-1:p", Some(&identity("us-east-1:i", &[]))).unwrap();
        assert_eq!(
            file.get("us-east-1:p"),
            Some(identity("us-east-1:i", &[])),
            "rewritten whole"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        file_in(&dir)
            .set("us-east-1:pool", Some(&identity("us-east-1:id", &[])))
            .unwrap();
        let mode = std::fs::metadata(dir.path().join("records.db.cognito-identity"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
