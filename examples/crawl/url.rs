//! URLs as the crawler needs them, as pure functions: parsing an `http://`
//! URL, resolving a link against the page it is on (RFC 3986 §5), the
//! scope of a crawl, and the file a URL is saved to. The tables that pin
//! them are in `tests/crawl.rs`.

use std::fmt;
use std::path::PathBuf;

/// An `http` URL: the origin, and the path with its query (percent-encoded,
/// without a fragment).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    /// The host as written in the URL, lower-cased (`127.0.0.1`, `[::1]`,
    /// `localhost`).
    pub host: String,
    /// The port (80 when the URL has none).
    pub port: u16,
    /// The path and query: starts with `/`.
    pub path: String,
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.path)
    }
}

/// Why a URL cannot be crawled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// Not `http://` (https is not spoken).
    NotHttp,
    /// No host, a user name, or a bad port.
    BadAuthority,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::NotHttp => "only http:// URLs can be crawled",
            UrlError::BadAuthority => {
                "the URL needs a host (and no user name), and a port of 1 to 65535"
            }
        })
    }
}

impl Url {
    /// Parses an absolute `http://` URL.
    ///
    /// # Errors
    ///
    /// [`UrlError`] for another scheme or a bad host or port.
    pub fn parse(s: &str) -> Result<Url, UrlError> {
        let s = s.trim();
        let rest = match s.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            _ => return Err(UrlError::NotHttp),
        };
        let rest = rest.split('#').next().unwrap_or("");
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() || authority.contains('@') {
            return Err(UrlError::BadAuthority);
        }
        // The port is after the last colon, unless that colon is inside an
        // IPv6 literal's brackets.
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                let port = &authority[i + 1..];
                let port = if port.is_empty() {
                    80
                } else {
                    port.parse().map_err(|_| UrlError::BadAuthority)?
                };
                (&authority[..i], port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() || port == 0 {
            return Err(UrlError::BadAuthority);
        }
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let (p, query) = split_query(&path);
        Ok(Url {
            host: host.to_ascii_lowercase(),
            port,
            path: format!("{}{}", encode(&remove_dot_segments(p)), encode(query)),
        })
    }

    /// `host` or `host:port` (without the port when it is 80): what the
    /// Host field says.
    pub fn authority(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The link `reference`, found on this page, as a URL: `None` for a
    /// link that is not http (`mailto:`, `javascript:`, `https:`), a
    /// fragment of this page, or empty.
    pub fn join(&self, reference: &str) -> Option<Url> {
        let reference = reference.trim_matches([' ', '\t', '\n', '\r', '\x0c']);
        let reference = reference.split('#').next().unwrap_or("");
        if reference.is_empty() {
            return None;
        }
        if has_scheme(reference) {
            return Url::parse(reference).ok();
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Url::parse(&format!("http://{rest}")).ok();
        }
        let (base_path, _) = split_query(&self.path);
        let merged = if reference.starts_with('/') {
            reference.to_string()
        } else if reference.starts_with('?') {
            format!("{base_path}{reference}")
        } else {
            let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{reference}")
        };
        let (path, query) = split_query(&merged);
        Some(Url {
            host: self.host.clone(),
            port: self.port,
            path: format!("{}{}", encode(&remove_dot_segments(path)), encode(query)),
        })
    }

    /// True when `other` is on the same origin and under this URL's
    /// directory: the scope of a crawl that starts here.
    pub fn covers(&self, other: &Url) -> bool {
        let (path, _) = split_query(&self.path);
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        self.host == other.host && self.port == other.port && other.path.starts_with(dir)
    }

    /// The file this URL is saved to, relative to the output directory:
    /// the path decoded, `index.html` for a directory, and the query, if
    /// any, kept in the file name.
    ///
    /// # Errors
    ///
    /// A path that could leave the output directory or is not a file
    /// name: an empty, `.` or `..` segment, or one holding `/` or NUL once
    /// decoded.
    pub fn file(&self) -> Result<PathBuf, String> {
        use std::os::unix::ffi::OsStrExt;
        let (path, query) = split_query(&self.path);
        let mut file = PathBuf::new();
        let segments: Vec<&str> = path[1..].split('/').collect();
        let last = segments.len() - 1;
        for (i, segment) in segments.iter().enumerate() {
            if i == last && segment.is_empty() {
                file.push("index.html");
                break;
            }
            let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
            if matches!(decoded.as_slice(), b"" | b"." | b"..")
                || decoded.contains(&b'/')
                || decoded.contains(&0)
            {
                return Err(format!("{:?} is not a file name", segment));
            }
            file.push(std::ffi::OsStr::from_bytes(&decoded));
        }
        if !query.is_empty() {
            let mut name = file.file_name().unwrap_or_default().to_os_string();
            name.push(query.replace('/', "%2F"));
            file.set_file_name(name);
        }
        Ok(file)
    }
}

/// Splits `path?query` into the path and `?query` (empty without one).
fn split_query(path: &str) -> (&str, &str) {
    path.split_at(path.find('?').unwrap_or(path.len()))
}

/// True for a reference that starts with a scheme: `mailto:`, `http:`.
fn has_scheme(reference: &str) -> bool {
    match reference.find(':') {
        Some(i) => {
            let scheme = &reference[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// RFC 3986 §5.2.4: resolves `.` and `..` segments (never above the root).
pub fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i == segments.len() - 1;
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Percent-encodes what may not stand in a path as it is (spaces, quotes,
/// non-ASCII), keeping escapes already there.
fn encode(path: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const PATH: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'<')
        .add(b'>')
        .add(b'\\')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    utf8_percent_encode(path, PATH).to_string()
}
