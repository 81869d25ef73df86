//! Private files: the data folder is readable by its owner only (0700), and every file Onramp
//! writes with customer data in it (the store, exports, backups) is 0600 from its creation.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates the folder (and its parents) if missing, and makes it 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes sure the file exists and is 0600, leaving its content as it is.
pub fn create_file(path: &Path) -> io::Result<()> {
    let f = open_options(false).open(path)?;
    restrict(&f)
}

/// Opens a new file (replacing any) for writing, 0600 from the start.
pub fn write_new(path: &Path) -> io::Result<File> {
    let f = open_options(true).open(path)?;
    restrict(&f)?;
    Ok(f)
}

fn open_options(truncate: bool) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Files made before Onramp kept them private are narrowed too.
fn restrict(f: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = f;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn folders_and_files_are_private() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let f = dir.join("x");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_file(&f).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "old");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        drop(write_new(&dir.join("y")).unwrap());
        assert_eq!(
            std::fs::metadata(dir.join("y"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
}
