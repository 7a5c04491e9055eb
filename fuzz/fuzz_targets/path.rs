//! `src/http/path.rs` with arbitrary targets: `resolve` never panics, and
//! what it accepts can be joined under a root without leaving it.
//!
//! For every accepted target: no segment is empty, `.` or `..`, or holds
//! `/`, NUL or another control byte; the target itself had no space or
//! control byte; joining the segments under a root gives only normal
//! components and stays under the root; `path` is the segments joined with
//! `/` (and a final `/` exactly when `trailing_slash`), never starting with
//! `//`; an empty path always has its trailing slash; the query is what
//! followed the first `?` before any `#`; `redirect_location` is ASCII
//! without space or control bytes and never starts with `//`; and encoding
//! the segments gives a target that resolves to the same segments. Any
//! single name that `encode_segment` encodes also comes back from
//! `resolve` unchanged.

#![no_main]

use std::path::{Component, Path};

use asynchat::http::path::{self, PathError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let target = String::from_utf8_lossy(data);
    check_resolve(&target);
    check_segment_round_trip(&target);
});

fn check_resolve(target: &str) {
    let got = path::resolve(target);
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        assert_eq!(got, Err(PathError::BadTarget), "{target:?}");
        return;
    }
    let Ok(r) = got else { return };
    for s in &r.segments {
        assert!(!matches!(s.as_str(), "" | "." | ".."), "{target:?}: {s:?}");
        assert!(
            !s.bytes().any(|b| b == b'/' || b < 0x20 || b == 0x7f),
            "{target:?}: {s:?}"
        );
    }
    let root = Path::new("/srv/root");
    let mut joined = root.to_path_buf();
    joined.extend(&r.segments);
    assert!(joined.starts_with(root), "{target:?}: {joined:?}");
    for c in joined
        .strip_prefix(root)
        .expect("under the root")
        .components()
    {
        assert!(matches!(c, Component::Normal(_)), "{target:?}: {c:?}");
    }
    assert_eq!(
        r.segments.len(),
        joined.components().count() - root.components().count(),
        "{target:?}: one component per segment"
    );

    let mut expected = String::new();
    for s in &r.segments {
        expected.push('/');
        expected.push_str(s);
    }
    assert!(r.segments.is_empty() <= r.trailing_slash, "{target:?}");
    if r.trailing_slash {
        expected.push('/');
    }
    assert_eq!(r.path, expected, "{target:?}");
    assert!(!r.path.starts_with("//"), "{target:?}");

    let before_fragment = target.split('#').next().unwrap_or_default();
    let query = before_fragment.split_once('?').map(|(_, q)| q);
    assert_eq!(r.query.as_deref(), query, "{target:?}");

    let location = path::redirect_location(&r);
    assert!(
        location.starts_with('/') && !location.starts_with("//"),
        "{location:?}"
    );
    assert!(
        location.bytes().all(|b| b.is_ascii_graphic()),
        "{target:?}: {location:?}"
    );

    let encoded = path::encode_path(&r.segments, r.trailing_slash);
    let again = path::resolve(&encoded)
        .unwrap_or_else(|e| panic!("{target:?}: {encoded:?} does not resolve: {e}"));
    assert_eq!(again.segments, r.segments, "{target:?} via {encoded:?}");
    assert_eq!(again.trailing_slash, r.trailing_slash, "{target:?}");
    assert_eq!(again.path, r.path, "{target:?}");
}

/// A name that could be a file name and a segment (not empty, `.` or `..`,
/// no `/` or control byte) survives encoding and resolving.
fn check_segment_round_trip(name: &str) {
    let encoded = path::encode_segment(name);
    assert!(
        encoded.bytes().all(|b| b.is_ascii_graphic()),
        "{name:?}: {encoded:?}"
    );
    assert!(
        !encoded.contains(['/', '?', '#', '&', '\'', '"', '<', '>', ':']),
        "{name:?}: {encoded:?}"
    );
    let plain = !matches!(name, "" | "." | "..")
        && !name.bytes().any(|b| b == b'/' || b < 0x20 || b == 0x7f);
    let back = path::resolve(&format!("/{encoded}"));
    if plain {
        let back = back.unwrap_or_else(|e| panic!("{name:?}: {encoded:?}: {e}"));
        assert_eq!(back.segments, [name], "{name:?} via {encoded:?}");
    }
}
