//! The request-target, turned into a safe path relative to the document root.
//!
//! This module owns the one place where a URL becomes a file-system path, so
//! it is where path traversal is stopped. [`resolve`] takes the target of a
//! request line and returns a list of decoded segments that never contains
//! `..`, `.` or an empty name, and can therefore be joined under the root
//! without escaping it. It never touches the file system: symbolic links are
//! the caller's concern.
//!
//! The steps, in order, are those of RFC 9112 §3.2 and RFC 3986 §5.2.4:
//!
//! 1. Accept origin-form (`/a/b?q`) or absolute-form (`http://host/a/b?q`);
//!    anything else is [`PathError::BadTarget`].
//! 2. Drop a fragment (`#...`), which a client should never send, then split
//!    off the query at the first `?`. This happens *before* decoding, so
//!    `/what%3f.jpg` names a file called `what?.jpg`.
//! 3. Percent-decode exactly once, strictly: a malformed escape, a decoded
//!    control byte or bytes that are not UTF-8 are errors, never guesses.
//! 4. Split on `/` *after* decoding, then drop empty and `.` segments and let
//!    `..` remove its parent. Splitting after decoding means `%2f` acts as a
//!    separator; that is deliberate, because containment is then checked on
//!    exactly the segments that will be joined, and a file name cannot
//!    contain `/` anyway. A `..` that would climb above the root is
//!    [`PathError::AboveRoot`] rather than being silently clamped, because no
//!    honest client sends one.
//!
//! A backslash is an ordinary byte: on Unix it is a valid character in a file
//! name, and no segment equal to `..` can ever come out of [`resolve`].
//!
//! The encoding half ([`encode_segment`], [`encode_path`],
//! [`redirect_location`]) goes the other way, for `href`s in listings and for
//! `Location` headers.

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

/// A request-target resolved to a safe relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The decoded path segments, none of them empty, `.` or `..`, and none
    /// containing `/`. Joining them under the document root stays inside it.
    pub segments: Vec<String>,
    /// True when the path ends with `/` (or with `/.` or `/..`, which RFC 3986
    /// resolves to a directory). Always true when `segments` is empty.
    pub trailing_slash: bool,
    /// The normalised, decoded path starting with `/`, such as `/docs/café/`,
    /// for display. It is not encoded; use [`encode_path`] for a URL.
    pub path: String,
    /// The raw query, undecoded and without its `?`, if the target had one.
    pub query: Option<String>,
}

/// Why a request-target was refused. Each maps to 400 Bad Request, except
/// that a server may prefer 403 or 404 for [`PathError::AboveRoot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The target is neither origin-form (`/path`) nor an `http`/`https`
    /// absolute-form URL with a host, or it contains a raw space or control
    /// byte, which no request line can carry.
    BadTarget,
    /// A `%` is not followed by two hexadecimal digits.
    BadEscape,
    /// A percent-escape decodes to a control byte (0x00 to 0x1f, or 0x7f).
    ControlByte,
    /// The decoded path is not valid UTF-8 (this includes overlong forms such
    /// as `%c0%ae`).
    BadUtf8,
    /// A `..` segment would climb above the document root.
    AboveRoot,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::BadTarget => "request-target is not an absolute path or an http(s) URL",
            PathError::BadEscape => "path has a '%' not followed by two hex digits",
            PathError::ControlByte => "path decodes to a control byte",
            PathError::BadUtf8 => "path does not decode to valid UTF-8",
            PathError::AboveRoot => "path climbs above the document root with '..'",
        })
    }
}

impl std::error::Error for PathError {}

/// Resolves a request-target to a safe relative path.
///
/// See the [module documentation](self) for the rules.
///
/// # Errors
///
/// Returns the first [`PathError`] met while reading the target from left to
/// right; UTF-8 is checked after the whole path has been decoded.
///
/// # Examples
///
/// ```
/// use asynchat::http::path::resolve;
///
/// let r = resolve("/docs/./a%20b/../c%3f.txt?x=1").unwrap();
/// assert_eq!(r.segments, ["docs", "c?.txt"]);
/// assert_eq!(r.path, "/docs/c?.txt");
/// assert_eq!(r.query.as_deref(), Some("x=1"));
/// assert!(resolve("/a/../../etc/passwd").is_err());
/// ```
pub fn resolve(target: &str) -> Result<Resolved, PathError> {
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(PathError::BadTarget);
    }
    let path_and_query = if target.starts_with('/') {
        target
    } else {
        strip_authority(target)?
    };
    let without_fragment = match path_and_query.find('#') {
        Some(i) => &path_and_query[..i],
        None => path_and_query,
    };
    let (raw_path, query) = match without_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (without_fragment, None),
    };
    // An absolute-form URL with an empty path means "/" (RFC 9112 §3.2.2).
    let raw_path = if raw_path.is_empty() { "/" } else { raw_path };
    let decoded =
        String::from_utf8(percent_decode_strict(raw_path)?).map_err(|_| PathError::BadUtf8)?;

    let mut segments: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    // The decoded path starts with '/', so the first piece is always empty.
    for piece in decoded.split('/').skip(1) {
        trailing_slash = matches!(piece, "" | "." | "..");
        match piece {
            "" | "." => {}
            ".." => {
                segments.pop().ok_or(PathError::AboveRoot)?;
            }
            name => segments.push(name.to_owned()),
        }
    }
    let mut path = String::with_capacity(decoded.len());
    for s in &segments {
        path.push('/');
        path.push_str(s);
    }
    if trailing_slash || segments.is_empty() {
        trailing_slash = true;
        path.push('/');
    }
    Ok(Resolved {
        segments,
        trailing_slash,
        path,
        query,
    })
}

/// The path and query of an origin-form (`/a?q`) or absolute-form
/// (`http://host/a?q`) request target, undecoded; `None` for any other form.
pub fn path_and_query(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        Some(target)
    } else {
        strip_authority(target).ok()
    }
}

/// Returns the part of an absolute-form target after its authority, which is
/// empty or starts with `/`, `?` or `#`.
fn strip_authority(target: &str) -> Result<&str, PathError> {
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| {
            let head = target.get(..scheme.len())?;
            head.eq_ignore_ascii_case(scheme)
                .then(|| &target[scheme.len()..])
        })
        .ok_or(PathError::BadTarget)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // RFC 9110 §4.2.1: an http URI with an empty host must be rejected, and
    // userinfo (`user@host`) should be treated as an error; the rest must
    // be a host and port, as a Host field must (RFC 3986 §3.2.2).
    if authority.is_empty()
        || authority.contains('@')
        || !super::head::valid_host(authority.as_bytes())
    {
        return Err(PathError::BadTarget);
    }
    Ok(&rest[end..])
}

/// Decodes every `%XX` in `s` exactly once, refusing malformed escapes and
/// escapes that produce control bytes.
fn percent_decode_strict(s: &str) -> Result<Vec<u8>, PathError> {
    fn hex(b: Option<&u8>) -> Result<u8, PathError> {
        match b {
            Some(b) => (*b as char)
                .to_digit(16)
                .map(|d| d as u8)
                .ok_or(PathError::BadEscape),
            None => Err(PathError::BadEscape),
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = if bytes[i] == b'%' {
            let d = hex(bytes.get(i + 1))? << 4 | hex(bytes.get(i + 2))?;
            i += 3;
            d
        } else {
            i += 1;
            bytes[i - 1]
        };
        if is_control(b) {
            return Err(PathError::ControlByte);
        }
        out.push(b);
    }
    Ok(out)
}

/// True for the bytes a decoded path may not hold: C0 controls and DEL.
fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// True when a file called `name` can be asked for: [`resolve`] gives back
/// exactly `name` for the link [`encode_segment`] makes of it. Names with
/// control bytes (a newline, a tab, DEL) cannot: their escapes decode to
/// bytes that [`resolve`] refuses. A listing shows only such names, so that
/// every link in it is served.
///
/// ```
/// use asynchat::http::path::is_servable_name;
/// assert!(is_servable_name("a b?.txt") && is_servable_name("caf\u{e9}"));
/// assert!(!is_servable_name("a\nb") && !is_servable_name("..") && !is_servable_name(""));
/// ```
pub fn is_servable_name(name: &str) -> bool {
    !matches!(name, "" | "." | "..") && !name.contains('/') && !name.bytes().any(is_control)
}

/// True when a raw path (as sent, before the query) names a directory as
/// one: it ends in `/`, or in a `.` or `..` segment (`%2e` spellings too),
/// which RFC 3986 §5.2.4 removes to leave a final `/`. A directory asked
/// for any other way (`/dir`, `/dir%2f`) is redirected to its `/` form, so
/// that the relative links of its listing resolve.
///
/// ```
/// use asynchat::http::path::names_a_directory;
/// assert!(names_a_directory("/dir/") && names_a_directory("/dir/.."));
/// assert!(!names_a_directory("/dir") && !names_a_directory("/dir%2f"));
/// ```
pub fn names_a_directory(raw_path: &str) -> bool {
    let last = raw_path.rsplit('/').next().unwrap_or_default();
    last.is_empty() || matches!(percent_decode_strict(last).as_deref(), Ok(b"." | b".."))
}

/// True when any segment starts with `.`, i.e. names a hidden file or
/// directory such as `.git` or `.env`.
pub fn is_hidden(segments: &[String]) -> bool {
    segments.iter().any(|s| s.starts_with('.'))
}

/// The bytes [`encode_segment`] escapes: everything except the unreserved
/// characters (`ALPHA DIGIT - . _ ~`) and the sub-delimiters that are safe
/// both in a path and in an HTML attribute. `&` and `'` are escaped so that an
/// encoded segment never needs HTML escaping; `:` is escaped so that a
/// relative `href` such as `javascript:x` cannot be read as a scheme.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// Percent-encodes one file name for use as a path segment in a URL.
///
/// Everything except `A-Z a-z 0-9 - . _ ~ ! $ ( ) * + , ; =` is escaped,
/// including `/`, `%`, `?`, `#`, `:`, `&`, `'` and all non-ASCII bytes (as
/// UTF-8). The result is plain ASCII that needs no further escaping inside a
/// quoted HTML attribute or a header.
///
/// # Examples
///
/// ```
/// use asynchat::http::path::encode_segment;
///
/// assert_eq!(encode_segment("a b#c?.txt"), "a%20b%23c%3F.txt");
/// ```
pub fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// Encodes segments as an absolute URL path such as `/a/b%20c/`.
///
/// With no segments the result is `/`, whatever `trailing_slash` says.
pub fn encode_path(segments: &[String], trailing_slash: bool) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.extend(utf8_percent_encode(s, SEGMENT));
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    out
}

/// The query bytes escaped in a `Location` header: controls, space and
/// non-ASCII. Existing escapes are kept as they are.
const QUERY: &AsciiSet = &CONTROLS.add(b' ');

/// The `Location` for redirecting a directory requested without its trailing
/// slash: the encoded path, a `/`, and the original query if there was one.
///
/// The result never starts with `//` (which a browser would read as another
/// host), because [`resolve`] drops empty segments: `//evil.com` resolves to
/// the segment `evil.com` and redirects to `/evil.com/`.
///
/// # Examples
///
/// ```
/// use asynchat::http::path::{redirect_location, resolve};
///
/// let r = resolve("/my%20docs?sort=name").unwrap();
/// assert_eq!(redirect_location(&r), "/my%20docs/?sort=name");
/// ```
pub fn redirect_location(resolved: &Resolved) -> String {
    let mut out = encode_path(&resolved.segments, true);
    if let Some(q) = &resolved.query {
        out.push('?');
        out.extend(percent_encoding::percent_encode(q.as_bytes(), QUERY));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments, trailing slash and query of a resolved target.
    type Expected = Result<(&'static [&'static str], bool, Option<&'static str>), PathError>;

    use PathError::*;

    const CASES: &[(&str, Expected)] = &[
        // Plain origin-form.
        ("/", Ok((&[], true, None))),
        ("/a", Ok((&["a"], false, None))),
        ("/a/", Ok((&["a"], true, None))),
        ("/a/b/c.txt", Ok((&["a", "b", "c.txt"], false, None))),
        ("/index.html", Ok((&["index.html"], false, None))),
        // Empty segments are dropped.
        ("//", Ok((&[], true, None))),
        ("//a///b", Ok((&["a", "b"], false, None))),
        ("//etc/passwd", Ok((&["etc", "passwd"], false, None))),
        ("//evil.com", Ok((&["evil.com"], false, None))),
        ("/a//", Ok((&["a"], true, None))),
        // Dot segments (RFC 3986 §5.2.4).
        ("/.", Ok((&[], true, None))),
        ("/./", Ok((&[], true, None))),
        ("/a/./b/../c", Ok((&["a", "c"], false, None))),
        ("/a/b/..", Ok((&["a"], true, None))),
        ("/a/b/../", Ok((&["a"], true, None))),
        ("/a/.", Ok((&["a"], true, None))),
        ("/a/..", Ok((&[], true, None))),
        ("/a/../b", Ok((&["b"], false, None))),
        ("/a/b/../../c/", Ok((&["c"], true, None))),
        // Names that merely contain dots are ordinary.
        ("/...", Ok((&["..."], false, None))),
        ("/..a", Ok((&["..a"], false, None))),
        ("/a..", Ok((&["a.."], false, None))),
        ("/.hidden", Ok((&[".hidden"], false, None))),
        (
            "/a/.git/config",
            Ok((&["a", ".git", "config"], false, None)),
        ),
        // Traversal: every class must be refused or neutralised.
        ("/..", Err(AboveRoot)),
        ("/../", Err(AboveRoot)),
        ("/../etc/passwd", Err(AboveRoot)),
        ("/a/../../b", Err(AboveRoot)),
        ("/a/b/../../../c", Err(AboveRoot)),
        ("/./../x", Err(AboveRoot)),
        ("/%2e%2e/x", Err(AboveRoot)),
        ("/%2E%2E/x", Err(AboveRoot)),
        ("/.%2e/x", Err(AboveRoot)),
        ("/%2e./x", Err(AboveRoot)),
        ("/a/%2e%2e/%2e%2e/x", Err(AboveRoot)),
        ("/a/%2e%2e/x", Ok((&["x"], false, None))),
        ("/%2e/x", Ok((&["x"], false, None))),
        ("/%2f..%2f", Err(AboveRoot)),
        ("/..%2fetc", Err(AboveRoot)),
        ("/a%2f..%2f..%2fetc", Err(AboveRoot)),
        ("/a%2fb", Ok((&["a", "b"], false, None))),
        ("/a%2F", Ok((&["a"], true, None))),
        ("/..\\etc", Ok((&["..\\etc"], false, None))),
        ("/a\\b", Ok((&["a\\b"], false, None))),
        ("/%5c..%5c", Ok((&["\\..\\"], false, None))),
        ("/..%5c..%5cetc", Ok((&["..\\..\\etc"], false, None))),
        ("/%252e%252e/", Ok((&["%2e%2e"], true, None))),
        ("/%252f", Ok((&["%2f"], false, None))),
        ("/%25", Ok((&["%"], false, None))),
        // Control bytes, raw or decoded.
        ("/%00", Err(ControlByte)),
        ("/a%00b", Err(ControlByte)),
        ("/a%0d%0aSet-Cookie:x", Err(ControlByte)),
        ("/%1f", Err(ControlByte)),
        ("/%7f", Err(ControlByte)),
        ("/%7F", Err(ControlByte)),
        ("/a\0b", Err(BadTarget)),
        ("/a\tb", Err(BadTarget)),
        ("/a b", Err(BadTarget)),
        ("/a\x7fb", Err(BadTarget)),
        // Malformed escapes.
        ("/%", Err(BadEscape)),
        ("/%4", Err(BadEscape)),
        ("/%zz", Err(BadEscape)),
        ("/%g0", Err(BadEscape)),
        ("/a%2", Err(BadEscape)),
        ("/%%41", Err(BadEscape)),
        ("/%+1", Err(BadEscape)),
        // Invalid UTF-8.
        ("/%c0%ae%c0%ae/", Err(BadUtf8)),
        ("/%c0%af", Err(BadUtf8)),
        ("/%ff", Err(BadUtf8)),
        ("/%c3", Err(BadUtf8)),
        ("/%ed%a0%80", Err(BadUtf8)),
        ("/%e2%82", Err(BadUtf8)),
        // Escapes that decode to ordinary characters.
        ("/%7Euser", Ok((&["~user"], false, None))),
        ("/%41%42c", Ok((&["ABc"], false, None))),
        ("/caf%C3%A9", Ok((&["café"], false, None))),
        ("/caf%c3%a9/", Ok((&["café"], true, None))),
        ("/café", Ok((&["café"], false, None))),
        ("/%e2%82%ac", Ok((&["€"], false, None))),
        ("/a%20b", Ok((&["a b"], false, None))),
        ("/a+b", Ok((&["a+b"], false, None))),
        ("/what%3f.jpg", Ok((&["what?.jpg"], false, None))),
        ("/what%3F.jpg?x", Ok((&["what?.jpg"], false, Some("x")))),
        ("/a%23b", Ok((&["a#b"], false, None))),
        // Query and fragment are split off before decoding.
        ("/a?x=1", Ok((&["a"], false, Some("x=1")))),
        ("/a?b", Ok((&["a"], false, Some("b")))),
        ("/a?", Ok((&["a"], false, Some("")))),
        ("/?x", Ok((&[], true, Some("x")))),
        ("/a?x=%zz", Ok((&["a"], false, Some("x=%zz")))),
        ("/a?x=/../..", Ok((&["a"], false, Some("x=/../..")))),
        ("/a?x?y", Ok((&["a"], false, Some("x?y")))),
        ("/a/?q", Ok((&["a"], true, Some("q")))),
        ("/a#frag", Ok((&["a"], false, None))),
        ("/a?x#frag", Ok((&["a"], false, Some("x")))),
        ("/a#f?x", Ok((&["a"], false, None))),
        ("/a#/../../..", Ok((&["a"], false, None))),
        // Absolute-form.
        (
            "http://example.com/x/y?z",
            Ok((&["x", "y"], false, Some("z"))),
        ),
        ("http://example.com", Ok((&[], true, None))),
        ("http://example.com/", Ok((&[], true, None))),
        ("http://example.com?q", Ok((&[], true, Some("q")))),
        ("http://example.com#f", Ok((&[], true, None))),
        ("http://example.com:8080/a/", Ok((&["a"], true, None))),
        ("https://example.com/a%20b", Ok((&["a b"], false, None))),
        ("HTTP://Example.COM/a", Ok((&["a"], false, None))),
        ("http://[::1]:80/a", Ok((&["a"], false, None))),
        ("http://example.com//etc", Ok((&["etc"], false, None))),
        ("http://example.com/../x", Err(AboveRoot)),
        ("http://example.com/%00", Err(ControlByte)),
        ("http:///x", Err(BadTarget)),
        ("http://", Err(BadTarget)),
        ("http://user@example.com/x", Err(BadTarget)),
        ("ftp://example.com/x", Err(BadTarget)),
        ("http:/x", Err(BadTarget)),
        ("http:x", Err(BadTarget)),
        ("example.com/x", Err(BadTarget)),
        // Neither form.
        ("", Err(BadTarget)),
        ("*", Err(BadTarget)),
        ("a/b", Err(BadTarget)),
        ("?x", Err(BadTarget)),
        ("#x", Err(BadTarget)),
        ("%2fa", Err(BadTarget)),
        (" /a", Err(BadTarget)),
    ];

    #[test]
    fn resolve_table() {
        for &(target, expected) in CASES {
            let got = resolve(target);
            let want = expected.map(|(segments, trailing_slash, query)| {
                let mut path: String = segments.iter().map(|s| format!("/{s}")).collect();
                if trailing_slash {
                    path.push('/');
                }
                Resolved {
                    segments: segments.iter().map(|s| s.to_string()).collect(),
                    trailing_slash,
                    path,
                    query: query.map(str::to_owned),
                }
            });
            assert_eq!(got, want, "resolve({target:?})");
        }
    }

    /// The invariants that make joining under the root safe hold for every
    /// accepted row, whatever the row expects in detail.
    #[test]
    fn resolved_segments_are_safe() {
        for (target, _) in CASES {
            let Ok(r) = resolve(target) else { continue };
            for s in &r.segments {
                assert!(!matches!(s.as_str(), "" | "." | ".."), "{target:?}: {s:?}");
                assert!(!s.contains('/') && !s.contains('\0'), "{target:?}: {s:?}");
            }
            assert!(r.segments.is_empty() <= r.trailing_slash, "{target:?}");
            assert!(
                r.path.starts_with('/') && !r.path.starts_with("//"),
                "{target:?}"
            );
            let location = redirect_location(&r);
            assert!(!location.starts_with("//"), "{target:?}: {location:?}");
            // Re-resolving the encoded path is a fixed point.
            let again = resolve(&encode_path(&r.segments, r.trailing_slash)).unwrap();
            assert_eq!(again.segments, r.segments, "{target:?}");
        }
    }

    #[test]
    fn is_hidden_table() {
        const CASES: &[(&[&str], bool)] = &[
            (&[], false),
            (&["a"], false),
            (&["a", "b.txt"], false),
            (&["a.", "b..c"], false),
            (&[".git"], true),
            (&["a", ".env"], true),
            (&[".well-known", "x"], true),
            (&["..."], true),
        ];
        for &(segments, want) in CASES {
            let segments: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
            assert_eq!(is_hidden(&segments), want, "{segments:?}");
        }
    }

    #[test]
    fn encode_segment_table() {
        const CASES: &[(&str, &str)] = &[
            ("", ""),
            ("plain.txt", "plain.txt"),
            ("AZaz09-._~", "AZaz09-._~"),
            ("!$()*+,;=", "!$()*+,;="),
            ("a b", "a%20b"),
            ("a b#c?.txt", "a%20b%23c%3F.txt"),
            ("100%", "100%25"),
            ("%2e%2e", "%252e%252e"),
            ("a/b", "a%2Fb"),
            ("a\\b", "a%5Cb"),
            ("javascript:alert(1)", "javascript%3Aalert(1)"),
            ("<script>&\"'.txt", "%3Cscript%3E%26%22%27.txt"),
            ("café", "caf%C3%A9"),
            ("€", "%E2%82%AC"),
            ("a@b", "a%40b"),
            ("[x]{y}|^`", "%5Bx%5D%7By%7D%7C%5E%60"),
            ("tab\there", "tab%09here"),
        ];
        for &(name, want) in CASES {
            assert_eq!(encode_segment(name), want, "encode_segment({name:?})");
            // Encoding then resolving gives the name back.
            if !name.is_empty() && !name.contains(['/', '\t']) {
                let r = resolve(&format!("/{}", encode_segment(name))).unwrap();
                assert_eq!(r.segments, [name], "round trip of {name:?}");
            }
        }
    }

    #[test]
    fn encode_path_table() {
        const CASES: &[(&[&str], bool, &str)] = &[
            (&[], false, "/"),
            (&[], true, "/"),
            (&["a"], false, "/a"),
            (&["a"], true, "/a/"),
            (&["a", "b c"], true, "/a/b%20c/"),
            (&["a", "b c"], false, "/a/b%20c"),
            (&["x?", "y#"], false, "/x%3F/y%23"),
            (&["évian"], true, "/%C3%A9vian/"),
        ];
        for &(segments, trailing, want) in CASES {
            let owned: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                encode_path(&owned, trailing),
                want,
                "{segments:?} {trailing}"
            );
        }
    }

    #[test]
    fn redirect_location_table() {
        const CASES: &[(&str, &str)] = &[
            ("/docs", "/docs/"),
            ("/a/b", "/a/b/"),
            ("/a?x=1", "/a/?x=1"),
            ("/a?", "/a/?"),
            ("/a?x=%20y", "/a/?x=%20y"),
            ("/a?é", "/a/?%C3%A9"),
            ("/my%20docs", "/my%20docs/"),
            ("/what%3f", "/what%3F/"),
            ("//evil.com", "/evil.com/"),
            ("///evil.com/", "/evil.com/"),
            ("/%2fevil.com", "/evil.com/"),
            ("http://h//evil.com", "/evil.com/"),
            ("/./evil.com", "/evil.com/"),
            ("/a/..", "/"),
            ("/", "/"),
            ("/?q", "/?q"),
        ];
        for &(target, want) in CASES {
            let r = resolve(target).unwrap();
            assert_eq!(redirect_location(&r), want, "redirect_location({target:?})");
        }
    }

    #[test]
    fn errors_say_what_was_wrong() {
        const CASES: &[(PathError, &str)] = &[
            (
                BadTarget,
                "request-target is not an absolute path or an http(s) URL",
            ),
            (BadEscape, "path has a '%' not followed by two hex digits"),
            (ControlByte, "path decodes to a control byte"),
            (BadUtf8, "path does not decode to valid UTF-8"),
            (AboveRoot, "path climbs above the document root with '..'"),
        ];
        for &(e, want) in CASES {
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn which_raw_paths_name_a_directory() {
        for (raw, want) in [
            ("/", true),
            ("/dir/", true),
            ("/dir/.", true),
            ("/dir/..", true),
            ("/dir/%2e", true),
            ("/dir/%2E%2e", true),
            ("/dir/./", true),
            ("/dir", false),
            ("/dir%2f", false),
            ("/dir/...", false),
            ("/dir/.x", false),
            ("/dir/%2e%2e%2f", false),
            ("/dir/%zz", false),
        ] {
            assert_eq!(names_a_directory(raw), want, "{raw}");
        }
    }
}
