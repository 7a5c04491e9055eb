//! The `Content-Type` of a file, from its extension.
//!
//! This module owns one decision: what to call a file's bytes. The answer
//! comes from `mime_guess`, with two additions: a file it does not know is
//! `application/octet-stream` (so a browser downloads rather than sniffs
//! it), and textual types get `; charset=utf-8`, so that a page or script
//! without a `<meta charset>` is not read as Latin-1.
//!
//! The common extensions are answered from a static table, without
//! allocating; a test checks that the table says exactly what `mime_guess`
//! and the charset rule would.

use std::borrow::Cow;
use std::path::Path;

/// The type of a file `mime_guess` does not know.
const OCTET_STREAM: &str = "application/octet-stream";

/// The answers for common extensions (matched case-insensitively), which are
/// what [`from_mime_guess`] computes, ready-made.
const COMMON: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "application/javascript; charset=utf-8"),
    ("json", "application/json; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("svg", "image/svg+xml; charset=utf-8"),
    ("xml", "text/xml; charset=utf-8"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("ico", "image/x-icon"),
    ("pdf", "application/pdf"),
    ("wasm", "application/wasm"),
    ("woff2", "font/woff2"),
    ("mp4", "video/mp4"),
    ("bin", OCTET_STREAM),
];

/// The `Content-Type` for the file at `path`, judged by its extension alone.
///
/// Unknown or missing extensions give `application/octet-stream`. Every
/// `text/*` type, and `application/javascript`, `application/json`,
/// `application/xml` and `image/svg+xml`, get `; charset=utf-8`. Common
/// extensions are answered without allocating.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use asynchat::http::mime::content_type;
///
/// assert_eq!(content_type(Path::new("index.HTML")), "text/html; charset=utf-8");
/// assert_eq!(content_type(Path::new("photo.jpg")), "image/jpeg");
/// assert_eq!(content_type(Path::new("Makefile")), "application/octet-stream");
/// ```
pub fn content_type(path: &Path) -> Cow<'static, str> {
    let common = path.extension().and_then(|e| e.to_str()).and_then(|ext| {
        COMMON
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(ext))
    });
    match common {
        Some((_, mime)) => Cow::Borrowed(mime),
        None => from_mime_guess(path),
    }
}

/// The answer computed from `mime_guess`; it allocates only for textual
/// types, which need the charset appended.
fn from_mime_guess(path: &Path) -> Cow<'static, str> {
    match mime_guess::from_path(path).first_raw() {
        None => Cow::Borrowed(OCTET_STREAM),
        Some(mime) if is_textual(mime) => Cow::Owned(format!("{mime}; charset=utf-8")),
        Some(mime) => Cow::Borrowed(mime),
    }
}

/// True for the types whose bytes are text and so need a charset.
fn is_textual(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/javascript" | "application/json" | "application/xml" | "image/svg+xml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASES: &[(&str, &str)] = &[
        // Common extensions.
        ("index.html", "text/html; charset=utf-8"),
        ("a/b/page.htm", "text/html; charset=utf-8"),
        ("INDEX.HTML", "text/html; charset=utf-8"),
        ("Index.Html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("mod.mjs", "application/javascript; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("README.md", "text/markdown; charset=utf-8"),
        ("logo.svg", "image/svg+xml; charset=utf-8"),
        ("feed.xml", "text/xml; charset=utf-8"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.JPEG", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("favicon.ico", "image/x-icon"),
        ("paper.pdf", "application/pdf"),
        ("app.wasm", "application/wasm"),
        ("font.woff2", "font/woff2"),
        ("movie.mp4", "video/mp4"),
        ("blob.bin", "application/octet-stream"),
        // Less common, through mime_guess.
        ("data.csv", "text/csv; charset=utf-8"),
        ("main.c", "text/plain; charset=utf-8"),
        ("a.tar.gz", "application/gzip"),
        ("a.zip", "application/zip"),
        ("a.mp3", "audio/mpeg"),
        ("a.woff", "application/font-woff"),
        ("a.webm", "video/webm"),
        // Unknown or no extension.
        ("Makefile", "application/octet-stream"),
        ("noext", "application/octet-stream"),
        ("a.unknownext", "application/octet-stream"),
        ("a.", "application/octet-stream"),
        (".html", "application/octet-stream"),
        ("dir.d/file", "application/octet-stream"),
        ("", "application/octet-stream"),
    ];

    #[test]
    fn content_type_table() {
        for &(path, want) in CASES {
            assert_eq!(
                content_type(Path::new(path)),
                want,
                "content_type({path:?})"
            );
        }
    }

    /// The static table is only a cache: it must agree with the slow path.
    #[test]
    fn common_table_agrees_with_mime_guess() {
        for &(ext, mime) in COMMON {
            let path = format!("file.{ext}");
            assert_eq!(from_mime_guess(Path::new(&path)), mime, "{ext}");
            assert!(
                matches!(content_type(Path::new(&path)), Cow::Borrowed(_)),
                "{ext}"
            );
        }
    }

    #[test]
    fn is_textual_table() {
        const CASES: &[(&str, bool)] = &[
            ("text/plain", true),
            ("text/html", true),
            ("application/javascript", true),
            ("application/json", true),
            ("application/xml", true),
            ("image/svg+xml", true),
            ("image/png", false),
            ("application/octet-stream", false),
            ("application/jsonx", false),
            ("texts/plain", false),
        ];
        for &(mime, want) in CASES {
            assert_eq!(is_textual(mime), want, "{mime}");
        }
    }
}
