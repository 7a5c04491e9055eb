//! Responses: what to answer a parsed request with, as a [`Reply`] (the
//! status line and fields, plus a lazy body producer) that the channel
//! pushes onto its FIFO.
//!
//! This module touches the file system (to find, open and list files) but
//! never a socket. Containment is checked on the real path: the request
//! path is normalised by [`super::path::resolve`] first, then the file it
//! names is canonicalised and must still lie inside the root, so neither a
//! crafted path nor a symlink can reach a byte outside it.

use std::fmt::Display;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path};
use std::time::SystemTime;

use super::Config;
use super::conditional;
use super::date;
use super::head::{HttpError, Method, Request, reason};
use super::listing;
use super::mime;
use super::path::{self, Resolved};
use super::range::{self, RangeRequest};
use crate::producer::{BytesProducer, Composite, FileProducer, Piece, Producer};

/// The `Server` field of every response.
pub const SERVER: &str = concat!("asynchat-httpd/", env!("CARGO_PKG_VERSION"));

/// A response ready to be queued: the head (without the `Connection` field
/// and the blank line, which the channel adds once it knows whether the
/// connection stays open) and the body. Whether the connection closes is
/// the channel's decision: it closes after framing errors, not after a 404.
pub struct Reply {
    /// The status code.
    pub status: u16,
    head: Vec<u8>,
    body: Option<Box<dyn Producer>>,
    /// The number of body bytes sent, for the access log (0 for HEAD, even
    /// though Content-Length announces the GET body's length).
    pub body_len: u64,
}

impl Reply {
    /// Starts a head with the status line and the fields every response
    /// carries.
    fn start(status: u16, date: &str) -> Reply {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"HTTP/1.1 ");
        head.extend_from_slice(status.to_string().as_bytes());
        head.push(b' ');
        head.extend_from_slice(reason(status).as_bytes());
        head.extend_from_slice(b"\r\nServer: ");
        head.extend_from_slice(SERVER.as_bytes());
        head.extend_from_slice(b"\r\nDate: ");
        head.extend_from_slice(date.as_bytes());
        head.extend_from_slice(b"\r\n");
        Reply {
            status,
            head,
            body: None,
            body_len: 0,
        }
    }

    /// Adds a field.
    fn field(mut self, name: &str, value: impl Display) -> Reply {
        // Writing to a Vec cannot fail.
        let _ = write!(self.head, "{name}: {value}\r\n");
        self
    }

    /// Sets the body and its Content-Length.
    fn body(mut self, len: u64, body: impl Producer + 'static) -> Reply {
        self.body_len = len;
        self.body = Some(Box::new(body));
        self.field("Content-Length", len)
    }

    /// A small HTML page for an error or a redirect.
    pub fn error(status: u16, why: &str, date: &str) -> Reply {
        let title = format!("{status} {}", reason(status));
        let page = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
             <body><h1>{title}</h1><p>{}</p><hr><address>{SERVER}</address></body></html>\n",
            listing::escape_html(why)
        );
        Reply::start(status, date)
            .field("Content-Type", "text/html; charset=utf-8")
            .body(page.len() as u64, BytesProducer::new(page))
    }

    /// The reply to an [`HttpError`].
    pub fn from_error(e: HttpError, date: &str) -> Reply {
        let reply = Reply::error(e.status, e.why, date);
        if e.status == 405 {
            return reply.field("Allow", "GET, HEAD, OPTIONS");
        }
        reply
    }

    /// Drops the body but keeps the fields: the answer to HEAD.
    fn without_body(mut self) -> Reply {
        self.body = None;
        self.body_len = 0;
        self
    }

    /// Finishes the head with the connection's fate and the blank line, and
    /// returns the head and the body, to be pushed in that order.
    pub fn into_parts(
        mut self,
        keep_alive: bool,
        http10: bool,
    ) -> (Piece, Option<Box<dyn Producer>>) {
        if !keep_alive {
            self.head.extend_from_slice(b"Connection: close\r\n");
        } else if http10 {
            self.head.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        self.head.extend_from_slice(b"\r\n");
        (Piece::from(self.head), self.body)
    }
}

/// Answers a request that has been parsed and whose body (if any) will be
/// discarded.
pub fn respond(cfg: &Config, req: &Request<'_>, date: &str) -> Reply {
    match req.method {
        Method::Get | Method::Head => {}
        Method::Options => {
            return Reply::start(200, date)
                .field("Allow", "GET, HEAD, OPTIONS")
                .field("Content-Length", 0);
        }
        Method::NotAllowed => {
            return Reply::from_error(HttpError::new(405, "this server only serves files"), date);
        }
        Method::Unknown => {
            return Reply::from_error(HttpError::new(501, "unknown method"), date);
        }
    }
    let reply = match path::resolve(req.target) {
        Ok(resolved) => serve(cfg, req, &resolved, date),
        Err(e) => Reply::error(400, &e.to_string(), date),
    };
    if req.method == Method::Head {
        reply.without_body()
    } else {
        reply
    }
}

fn not_found(date: &str) -> Reply {
    Reply::error(404, "There is no such file here.", date)
}

/// Serves the file or directory a resolved path names.
fn serve(cfg: &Config, req: &Request<'_>, resolved: &Resolved, date: &str) -> Reply {
    if !cfg.hidden && path::is_hidden(&resolved.segments) {
        return not_found(date);
    }
    let mut fs_path = cfg.root.clone();
    fs_path.extend(&resolved.segments);
    let Some((real, meta)) = contained(cfg, &fs_path) else {
        return not_found(date);
    };
    if meta.is_dir() {
        if !resolved.trailing_slash {
            return Reply::error(301, "This is a directory.", date)
                .field("Location", path::redirect_location(resolved));
        }
        let index = real.join(&cfg.index);
        if let Some((index, meta)) = contained(cfg, &index)
            && meta.is_file()
        {
            return serve_file(cfg, req, &index, date);
        }
        if !cfg.listing {
            return Reply::error(403, "Directory listing is disabled.", date);
        }
        return list(cfg, resolved, &real, date);
    }
    if !meta.is_file() || resolved.trailing_slash {
        return not_found(date);
    }
    serve_file(cfg, req, &real, date)
}

/// Canonicalises `p` and returns it with its metadata if it lies inside the
/// root and, unless hidden files are served, no component of it below the
/// root starts with a dot (a symlink to a hidden file is still hidden).
fn contained(cfg: &Config, p: &Path) -> Option<(std::path::PathBuf, Metadata)> {
    let real = fs::canonicalize(p).ok()?;
    let below = real.strip_prefix(&cfg.root).ok()?;
    if !cfg.hidden
        && below.components().any(
            |c| matches!(c, Component::Normal(name) if name.as_encoded_bytes().starts_with(b".")),
        )
    {
        return None;
    }
    let meta = fs::metadata(&real).ok()?;
    Some((real, meta))
}

/// Opens a regular file without blocking: a FIFO swapped in after the
/// metadata check must not hang the loop on `open`.
fn open_regular(p: &Path) -> io::Result<(File, Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(p)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    Ok((file, meta))
}

fn serve_file(cfg: &Config, req: &Request<'_>, p: &Path, date: &str) -> Reply {
    let (file, meta) = match open_regular(p) {
        Ok(pair) => pair,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Reply::error(403, "This file cannot be read.", date);
        }
        Err(_) => return not_found(date),
    };
    let len = meta.len();
    let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let etag = conditional::etag(len, mtime);
    let last_modified = date::fmt_http_date(mtime);

    // RFC 9110 §13.2.2: If-None-Match takes precedence over If-Modified-Since.
    let not_modified = match (req.if_none_match, req.if_modified_since) {
        (Some(inm), _) => conditional::if_none_match_matches(inm, &etag),
        (None, Some(ims)) => conditional::not_modified_since(ims, mtime),
        (None, None) => false,
    };
    if not_modified {
        return Reply::start(304, date)
            .field("ETag", &etag)
            .field("Last-Modified", &last_modified);
    }

    let content_type = mime::content_type(p);
    let ranges = match req.range {
        Some(h)
            if req
                .if_range
                .is_none_or(|ir| conditional::if_range_allows(ir, &etag, mtime)) =>
        {
            range::parse(h, len, cfg.max_ranges)
        }
        _ => RangeRequest::Full,
    };
    let reply = |status| {
        Reply::start(status, date)
            .field("Last-Modified", &last_modified)
            .field("ETag", &etag)
            .field("Accept-Ranges", "bytes")
    };
    match ranges {
        RangeRequest::Full => reply(200)
            .field("Content-Type", &content_type)
            .body(len, FileProducer::new(file, 0, len)),
        RangeRequest::Unsatisfiable => {
            Reply::error(416, "The requested range is outside the file.", date)
                .field("Content-Range", range::unsatisfied_range(len))
        }
        RangeRequest::Ranges(ranges) if ranges.len() == 1 => {
            let r = &ranges[0];
            reply(206)
                .field("Content-Type", &content_type)
                .field("Content-Range", range::content_range(r, len))
                .body(
                    r.end - r.start,
                    FileProducer::new(file, r.start, r.end - r.start),
                )
        }
        RangeRequest::Ranges(ranges) => {
            let boundary = format!("asynchat-{}", etag.trim_matches('"'));
            let file = std::rc::Rc::new(file);
            let mut body = Composite::new();
            let mut total = 0;
            for r in &ranges {
                let part = format!(
                    "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
                    range::content_range(r, len)
                );
                total += part.len() as u64 + (r.end - r.start);
                body = body.with(BytesProducer::new(part)).with(FileProducer::new(
                    std::rc::Rc::clone(&file),
                    r.start,
                    r.end - r.start,
                ));
            }
            let end = format!("\r\n--{boundary}--\r\n");
            total += end.len() as u64;
            body = body.with(BytesProducer::new(end));
            reply(206)
                .field(
                    "Content-Type",
                    format!("multipart/byteranges; boundary={boundary}"),
                )
                .body(total, body)
        }
    }
}

fn list(cfg: &Config, resolved: &Resolved, dir: &Path, date: &str) -> Reply {
    let Ok(read) = fs::read_dir(dir) else {
        return Reply::error(403, "This directory cannot be read.", date);
    };
    let mut entries = Vec::new();
    for entry in read.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue; // a name that is not UTF-8 could not be requested anyway
        };
        if !cfg.hidden && name.starts_with('.') {
            continue;
        }
        // List exactly what would be served: the same containment check as
        // a request, so a symlink out of the root (or to a dotfile) shows
        // neither its name nor its target's size and time.
        let Some((_, meta)) = contained(cfg, &entry.path()) else {
            continue;
        };
        if !meta.is_dir() && !meta.is_file() {
            continue;
        }
        entries.push(listing::Entry {
            name,
            is_dir: meta.is_dir(),
            size: meta.len(),
            modified: meta.modified().ok(),
        });
    }
    let page = listing::render(&resolved.path, resolved.segments.is_empty(), entries);
    Reply::start(200, date)
        .field("Content-Type", "text/html; charset=utf-8")
        .body(page.len() as u64, BytesProducer::new(page))
}
