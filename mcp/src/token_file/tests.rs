//! The token file: private from its first byte, fresh at every start, and
//! refused when someone else may have read it.

use std::os::unix::fs::PermissionsExt;

use super::*;

/// A fresh directory under the system temp dir (removed at the end).
fn scratch(label: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("kb-mcp-{label}-{}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_generated_token_is_64_hex_digits_in_a_0600_file_and_fresh_each_start() {
    let dir = scratch("gen");
    let path = dir.join("sub").join("http-1.token");
    let first = generate(&path, true).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(fs::read_to_string(&path).unwrap(), first.expose());
    assert_eq!(first.expose().len(), 2 * TOKEN_BYTES);
    assert!(first.expose().bytes().all(|b| b.is_ascii_hexdigit()));
    let second = generate(&path, true).unwrap();
    assert_ne!(first.expose(), second.expose(), "a new token each start");
    assert_eq!(fs::read_to_string(&path).unwrap(), second.expose());
    assert_eq!(mode(&path), 0o600);
    let left: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file is left behind");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_others_may_read_or_a_non_file_is_refused_and_left_alone() {
    let dir = scratch("open");
    let path = dir.join("t");
    for wide in [0o644, 0o640, 0o606, 0o660] {
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(wide)).unwrap();
        let err = generate(&path, false).unwrap_err();
        assert!(
            matches!(err, TokenFileError::TooOpen { mode, .. } if mode == wide),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "old", "untouched");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere"), &path).unwrap();
    assert!(matches!(
        generate(&path, false),
        Err(TokenFileError::NotAFile(_))
    ));
    assert!(!dir.join("elsewhere").exists(), "the link was not followed");
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    assert!(matches!(
        generate(&path, false),
        Err(TokenFileError::NotAFile(_))
    ));
    // A missing directory is not created for an explicit path.
    let err = generate(&dir.join("missing").join("t"), false).unwrap_err();
    assert!(matches!(err, TokenFileError::Io { .. }), "{err}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_default_path_is_per_user_and_per_port() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    assert_eq!(
        default_path(
            env(&[("XDG_RUNTIME_DIR", "/run/user/7"), ("HOME", "/h")]),
            8931
        ),
        Some(PathBuf::from("/run/user/7/keybroker-mcp/http-8931.token"))
    );
    assert_eq!(
        default_path(env(&[("HOME", "/h")]), 1),
        Some(PathBuf::from("/h/.keybroker-mcp/http-1.token"))
    );
    assert_eq!(default_path(env(&[("XDG_RUNTIME_DIR", "")]), 1), None);
}
