//! Responses: what to answer a parsed request with. Every response is
//! decided here, as an [`Answer`] holding a [`Reply`] (status, fields and a
//! body) that the channel pushes onto its FIFO: files, listings, redirects,
//! the status page, error pages, and whether to take the request's body at
//! all (`100 Continue`, or a refusal before the body is sent).
//!
//! This module touches the file system (to find, open and list files) but
//! never a socket. The request path is normalised by
//! [`super::path::resolve`] first, then opened beneath the root's
//! descriptor ([`super::beneath`]), so that neither a crafted path nor a
//! symlink, not even one swapped in while the path is resolved, can reach a
//! byte outside the root: the file checked is the file opened. What a request
//! path resolved to is kept in the [`FileCache`] for a second, so serving a
//! file again costs no system call and no allocation.

use std::ffi::OsStr;
use std::fmt::Display;
use std::fs::File;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Dir, FileType, Stat, StatxFlags};
use rustix::io::Errno;

use super::auth;
use super::beneath::{OpenError, Opened, Root};
use super::byteranges::{self, ByteRanges};
use super::cache::{self, CachedFile, FileCache, Part};
use super::conn::Clock;
use super::encoding::Coding;
use super::error::HttpError;
use super::head::{Framing, Method, Persistence, Request, Version};
use super::path::{self, Resolved};
use super::range::{self, RangeRequest};
use super::status::{SERVER, reason};
use super::{Config, Shared, conditional, head, listing, ows, upload};
use crate::channel::Channel;
use crate::producer::{FileStamp, Piece, Producer, time_of};

/// The methods this server allows, for `Allow`.
const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The fields of a reply after `Date`, each ending in CRLF.
enum Fields {
    /// Rendered for this reply.
    Owned(Vec<u8>),
    /// Rendered once for a cached file and shared, with the empty line
    /// that ends a keep-alive head after them: the fields and that end
    /// are one piece for the commonest response.
    Shared(Rc<[u8]>),
}

/// The end of a head that [`Fields::Shared`] carries.
const HEAD_END: &[u8] = b"\r\n";

/// The body of a reply.
enum Body {
    None,
    Piece(Piece),
    /// Several pieces, in order (a listing: its head, its shared rows).
    Pieces(Vec<Piece>),
    Producer(Box<dyn Producer>),
}

impl Body {
    /// Some bytes of a cached file as a body.
    fn of(part: Part) -> Body {
        match part {
            Part::Bytes(piece) => Body::Piece(piece),
            Part::Spans(spans) => Body::Producer(Box::new(spans)),
        }
    }
}

/// A response ready to be queued. The channel adds `Date` and the
/// `Connection` field: it closes after framing errors, not after a 404.
pub struct Reply {
    /// The status code.
    pub status: u16,
    fields: Fields,
    body: Body,
    /// The number of body bytes sent, for the access log (0 for HEAD, even
    /// though Content-Length announces the GET body's length).
    pub body_len: u64,
    /// The request body bytes stored, for the access log: set for uploads.
    pub received: Option<u64>,
}

impl Reply {
    /// A reply with no fields yet.
    fn new(status: u16) -> Reply {
        Reply {
            status,
            fields: Fields::Owned(Vec::with_capacity(128)),
            body: Body::None,
            body_len: 0,
            received: None,
        }
    }

    /// Adds a field.
    fn field(mut self, name: &str, value: impl Display) -> Reply {
        if let Fields::Shared(shared) = &self.fields {
            let fields = shared.strip_suffix(HEAD_END).unwrap_or(shared);
            self.fields = Fields::Owned(fields.to_vec());
        }
        if let Fields::Owned(fields) = &mut self.fields {
            // Writing to a Vec cannot fail.
            let _ = write!(fields, "{name}: {value}\r\n");
        }
        self
    }

    /// Sets an in-memory body and its Content-Length. It is queued as a
    /// piece, so the channel's back-pressure counts its bytes.
    fn bytes(mut self, body: impl Into<Vec<u8>>) -> Reply {
        let body = body.into();
        self.body_len = body.len() as u64;
        let len = self.body_len;
        self.body = Body::Piece(Piece::from(body));
        self.field("Content-Length", len)
    }

    /// Sets a body (a piece or a producer) of `len` bytes and its
    /// Content-Length.
    fn body(mut self, len: u64, body: Body) -> Reply {
        self.body_len = len;
        self.body = body;
        self.field("Content-Length", len)
    }

    /// A small HTML page saying `message` under the status as its title.
    fn page(status: u16, message: &str) -> Reply {
        let title = format!("{status} {}", reason(status));
        let page = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
             <body><h1>{title}</h1><p>{}</p><hr><address>{SERVER}</address></body></html>\n",
            listing::escape_html(message)
        );
        Reply::new(status)
            .field("Content-Type", "text/html; charset=utf-8")
            .bytes(page)
    }

    /// The reply to an [`HttpError`]: its status, an error page with its
    /// words, and the fields that cause calls for.
    pub fn from_error(e: HttpError) -> Reply {
        Reply::error_page(e, &e.to_string())
    }

    /// [`Reply::from_error`] with other words on its page.
    pub(super) fn error_page(e: HttpError, message: &str) -> Reply {
        let reply = Reply::page(e.status(), message);
        match e {
            HttpError::MethodNotAllowed => reply.field("Allow", ALLOW),
            // A directory takes a form's POST, and reads (RFC 9110 §15.5.6:
            // a 405 says what is allowed).
            HttpError::UploadIsDirectory => reply.field("Allow", "GET, HEAD, OPTIONS, POST"),
            HttpError::Unauthorized => reply.field("WWW-Authenticate", auth::CHALLENGE),
            HttpError::Unavailable => reply.field("Retry-After", 1),
            HttpError::RangeNotSatisfiable { len } => {
                reply.field("Content-Range", range::unsatisfied_range(len))
            }
            _ => reply,
        }
    }

    /// A 201 for a file an upload created at `location`.
    pub(super) fn created(location: &str) -> Reply {
        Reply::new(201)
            .field("Location", location)
            .field("Content-Length", 0)
    }

    /// A 204 for a file an upload replaced.
    pub(super) fn no_content() -> Reply {
        Reply::new(204)
    }

    /// A 303 to `location` with a short page saying `message`: the answer
    /// to a form's upload, back to the listing.
    pub(super) fn see_other(location: &str, message: &str) -> Reply {
        Reply::page(303, message).field("Location", location)
    }

    /// A 301 to `location`, for a directory asked for without its `/`.
    fn redirect(location: impl Display) -> Reply {
        Reply::page(301, "This is a directory.").field("Location", location)
    }

    /// A 200 for a cached file: every part is shared, nothing is allocated.
    fn whole_file(f: &CachedFile) -> Reply {
        let body = match &f.body {
            cache::Body::InMemory(contents) => Body::Piece(Piece::Shared(Rc::clone(contents))),
            cache::Body::OnDisk(_) => Body::of(f.part(0..f.len)),
        };
        Reply {
            status: 200,
            fields: Fields::Shared(Rc::clone(&f.fields_200)),
            body,
            body_len: f.len,
            received: None,
        }
    }

    /// A 200 with a page generated for this request (never cached by the
    /// client).
    pub fn generated(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200)
            .field("Content-Type", content_type)
            .field("Cache-Control", "no-store")
            .bytes(body)
    }

    /// Drops the body but keeps the fields: the answer to HEAD.
    pub fn drop_body(&mut self) {
        self.body = Body::None;
        self.body_len = 0;
    }

    /// Queues the reply on `chan`: status line and `Date` field from
    /// `clock` ([`Clock::push_start`]), fields, the fields added to every response
    /// (`extra`: `--header`, `--cors`), the `Connection` field that
    /// `persistence` calls for, blank line, body.
    pub(crate) fn push_onto(
        self,
        chan: &mut Channel,
        clock: &Clock,
        extra: Option<&Rc<[u8]>>,
        persistence: Persistence,
    ) {
        clock.push_start(chan, self.status);
        let end: &'static [u8] = match persistence {
            Persistence::Close => b"Connection: close\r\n\r\n",
            Persistence::KeepAliveHttp10 => b"Connection: keep-alive\r\n\r\n",
            Persistence::KeepAlive => HEAD_END,
        };
        // The fields and the head's end go as one piece unless `extra`
        // comes between them.
        match (self.fields, extra) {
            (Fields::Shared(fields), None) if end == HEAD_END => chan.push(fields),
            (Fields::Owned(mut fields), None) => {
                fields.extend_from_slice(end);
                chan.push(fields);
            }
            (fields, extra) => {
                match fields {
                    Fields::Owned(fields) => chan.push(fields),
                    Fields::Shared(fields) => {
                        chan.push(Piece::slice(&fields, 0..fields.len() - HEAD_END.len()));
                    }
                }
                if let Some(extra) = extra {
                    chan.push(Rc::clone(extra));
                }
                chan.push(end);
            }
        }
        match self.body {
            Body::None => {}
            Body::Piece(piece) => chan.push(piece),
            Body::Pieces(pieces) => {
                for piece in pieces {
                    chan.push(piece);
                }
            }
            Body::Producer(producer) => chan.push_with_producer(producer),
        }
    }
}

/// What to do with a request whose head has been parsed.
pub enum Answer {
    /// Send the reply once the request's body, if it has one, has been
    /// read. `send_continue`: the client waits for `100 Continue` before it
    /// sends the body, so say that first.
    AfterBody {
        /// The response.
        reply: Reply,
        /// Push `100 Continue` before reading the body.
        send_continue: bool,
    },
    /// Send this refusal now and close without reading the body: the client
    /// waits for `100 Continue` before sending it, and will not get one.
    /// Whether it then sends the body or not, the connection cannot be
    /// trusted to stay in sync, so it closes.
    RefuseBody(Reply),
    /// The request cannot be taken at all: answer this error and close
    /// without reading the body (a Content-Length over the limit).
    Fail(HttpError),
    /// Store the body (`--upload`): each piece goes to `store` as it
    /// arrives, and the reply is what storing it came to.
    Store {
        /// Where the body goes (boxed: most answers are not uploads).
        store: Box<upload::Store>,
        /// Push `100 Continue` before reading the body.
        send_continue: bool,
    },
}

/// Decides the answer to a request whose head has been parsed, from the
/// peer's address (for the status page) and the loop's clock.
pub fn answer(
    shared: &Shared,
    req: &Request<'_>,
    peer: Option<SocketAddr>,
    now: Instant,
) -> Answer {
    if shared.config.upload && matches!(req.method, Method::Put | Method::Post) {
        return answer_upload(shared, req, now);
    }
    if let Framing::Length(n) = req.framing
        && n > shared.config.max_body
    {
        return Answer::Fail(HttpError::BodyTooLarge);
    }
    let served = if !authorized(shared, req) {
        // Before anything else, the status page included.
        Err(HttpError::Unauthorized)
    } else {
        match status_page(shared, req, peer, now) {
            Some(page) => Ok(page),
            None => serve(shared, &mut shared.cache.borrow_mut(), req, now),
        }
    };
    after_body(shared, req, served, now)
}

/// The answer to an upload (`--upload`, PUT or POST): a store its body
/// goes to, or why there is none, decided as for any request.
#[cold]
fn answer_upload(shared: &Shared, req: &Request<'_>, now: Instant) -> Answer {
    if let Framing::Length(n) = req.framing
        && n > shared.config.max_upload
    {
        return Answer::Fail(HttpError::UploadTooLarge);
    }
    let failed = if authorized(shared, req) {
        match upload::Store::begin(shared, req) {
            Ok(store) => {
                return Answer::Store {
                    store: Box::new(store),
                    send_continue: waits_for_continue(req),
                };
            }
            Err(e) => e,
        }
    } else {
        HttpError::Unauthorized
    };
    after_body(shared, req, Err(failed), now)
}

/// True when `req` may be answered: no `--auth`, the credentials it asks
/// for, or a CORS preflight (a browser sends no credentials with one, the
/// Fetch standard's rule, and the answer to one reveals nothing).
fn authorized(shared: &Shared, req: &Request<'_>) -> bool {
    let preflight = shared.config.cors && req.method == Method::Options && req.cors_preflight;
    shared
        .config
        .auth
        .as_ref()
        .is_none_or(|credentials| preflight || credentials.accept(req.authorization))
}

/// True when the client waits for `100 Continue` before it sends the body.
fn waits_for_continue(req: &Request<'_>) -> bool {
    req.expect_continue && req.version == Version::Http11 && req.framing != Framing::None
}

/// The answer once the reply to `req` is known: sent after its body is
/// read, or, for an error to a client that waits for `100 Continue`, at
/// once without reading it.
fn after_body(
    shared: &Shared,
    req: &Request<'_>,
    served: Result<Reply, HttpError>,
    now: Instant,
) -> Answer {
    let waits = waits_for_continue(req);
    let (mut reply, refused) = match served {
        Ok(reply) => (reply, false),
        Err(e) => (error_reply(shared, e, now), waits),
    };
    // A response to HEAD has no content, even an error page (RFC 9110
    // §9.3.2).
    if req.method == Method::Head {
        reply.drop_body();
    }
    if refused {
        Answer::RefuseBody(reply)
    } else {
        Answer::AfterBody {
            reply,
            send_continue: waits,
        }
    }
}

/// The reply to an error: the `--404` page for a 404 when there is one,
/// the server's own error page otherwise.
fn error_reply(shared: &Shared, e: HttpError, now: Instant) -> Reply {
    match (&shared.not_found_page, e) {
        (Some(page), HttpError::NotFound) => {
            let (bytes, content_type) = page.borrow_mut().current(now);
            let len = bytes.len() as u64;
            Reply::new(404)
                .field("Content-Type", content_type)
                .body(len, Body::Piece(Piece::Shared(bytes)))
        }
        _ => Reply::from_error(e),
    }
}

/// The status page, when `req` asks for it: GET or HEAD of the status
/// path, from loopback unless the page is public. Anything else is served
/// as if the page did not exist.
fn status_page(
    shared: &Shared,
    req: &Request<'_>,
    peer: Option<SocketAddr>,
    now: Instant,
) -> Option<Reply> {
    let cfg = &shared.config;
    let want = cfg.status_path.as_deref()?;
    let target = path::path_and_query(req.target)?;
    let target = target.split('#').next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // An IPv4 client of a server bound to `::` shows as `::ffff:a.b.c.d`.
    let allowed = cfg.status_public || peer.is_none_or(|p| p.ip().to_canonical().is_loopback());
    if path != want || !matches!(req.method, Method::Get | Method::Head) || !allowed {
        return None;
    }
    // Whichever worker got the request shows every worker's channels.
    let page = &shared.monitors;
    Some(if query.split('&').any(|q| q == "format=json") {
        Reply::generated("application/json", page.json(now))
    } else {
        Reply::generated("text/html; charset=utf-8", page.html(now))
    })
}

/// Answers a request for a file (or for what the server allows).
fn serve(
    shared: &Shared,
    cache: &mut FileCache,
    req: &Request<'_>,
    now: Instant,
) -> Result<Reply, HttpError> {
    match req.method {
        Method::Get | Method::Head => {}
        Method::Options if shared.config.cors && req.cors_preflight => {
            return Ok(preflight(req));
        }
        Method::Options => {
            return Ok(Reply::new(200)
                .field("Allow", ALLOW)
                .field("Content-Length", 0));
        }
        Method::Put | Method::Post | Method::NotAllowed => {
            return Err(HttpError::MethodNotAllowed);
        }
        Method::Unknown => return Err(HttpError::MethodUnknown),
    }
    let cfg = &shared.config;
    // Entries are keyed by the canonical spelling of the path (see
    // FileCache), which is what clients send: the target as it is, up to
    // the query, finds it without resolving anything.
    let raw = match memchr::memchr(b'?', req.target.as_bytes()) {
        Some(i) => &req.target[..i],
        None => req.target,
    };
    if let Some(reply) = from_cache(cfg, cache, req, raw, now) {
        return reply;
    }
    let resolved = path::resolve(req.target).map_err(HttpError::BadPath)?;
    let key = path::encode_path(&resolved.segments, resolved.trailing_slash);
    // Every other spelling of the path shares the entry: no spelling opens
    // a file (or reads a small one) again. A directory's index is served
    // only to a path that names the directory as one (`/dir/`, `/dir/.`,
    // not `/dir%2f`, which is redirected).
    let as_directory =
        || path::names_a_directory(req.target.split(['?', '#']).next().unwrap_or(""));
    if key != raw
        && (!key.ends_with('/') || as_directory())
        && let Some(reply) = from_cache(cfg, cache, req, &key, now)
    {
        return reply;
    }
    match find(
        cfg,
        &shared.root,
        cache,
        &resolved,
        req.target,
        req.accept,
        now,
    ) {
        Ok(Found::File(file)) => {
            let file = Rc::new(file);
            cache.insert(&key, Rc::clone(&file), now);
            serve_file(cfg, req, &file)
        }
        Ok(Found::Reply(reply)) => Ok(reply),
        Err(HttpError::NotFound) if cfg.spa && is_app_route(cfg, &resolved) => {
            app_index(shared, cache, req, now)
        }
        Err(e) => Err(e),
    }
}

/// True for a path a single-page app handles itself: its last segment has
/// no extension (`/users/42`, not `/app.js`), so a missing one is a route,
/// not a missing file. A hidden path (`/.git/config`) is no route: it stays
/// as not found as it would be without `--spa`.
fn is_app_route(cfg: &Config, resolved: &Resolved) -> bool {
    let last_plain = resolved
        .segments
        .last()
        .is_none_or(|last| !last.contains('.'));
    last_plain && (cfg.hidden || !path::is_hidden(&resolved.segments))
}

/// The root's index file, for a route of a single-page app (`--spa`): what
/// a request for `/` would get when that is a file, a 404 otherwise (a
/// listing is no app).
fn app_index(
    shared: &Shared,
    cache: &mut FileCache,
    req: &Request<'_>,
    now: Instant,
) -> Result<Reply, HttpError> {
    let cfg = &shared.config;
    if let Some(reply) = from_cache(cfg, cache, req, "/", now) {
        return reply;
    }
    let top = path::resolve("/").map_err(HttpError::BadPath)?;
    match find(cfg, &shared.root, cache, &top, "/", None, now)? {
        Found::File(file) => {
            let file = Rc::new(file);
            cache.insert("/", Rc::clone(&file), now);
            serve_file(cfg, req, &file)
        }
        Found::Reply(_) => Err(HttpError::NotFound),
    }
}

/// The answer to a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`): 204, the methods this server allows,
/// the request headers asked for (when they are a list of tokens), and how
/// long a browser may keep the answer. `Access-Control-Allow-Origin: *` is
/// among the fields every response gets with `--cors`.
fn preflight(req: &Request<'_>) -> Reply {
    let mut reply = Reply::new(204)
        .field("Access-Control-Allow-Methods", ALLOW)
        .field("Access-Control-Max-Age", 86_400);
    // Empty list elements are ignored (RFC 9110 §5.6.1): several field
    // lines, or `a,,b`, are one list of names.
    if let Some(asked) = req.cors_headers.as_deref() {
        let names: Vec<&str> = asked
            .split(',')
            .map(ows::trim)
            .filter(|h| !h.is_empty())
            .collect();
        if !names.is_empty() && names.iter().all(|h| h.bytes().all(head::is_tchar)) {
            reply = reply.field("Access-Control-Allow-Headers", names.join(", "));
        }
    }
    reply
}

/// The answer from the file cache's entry `key`, while it still describes
/// the file: one sent from the disk may have been rewritten in place since
/// the entry was made, and its validators would no longer describe its
/// bytes; then the entry is dropped and the path resolved afresh.
fn from_cache(
    cfg: &Config,
    cache: &mut FileCache,
    req: &Request<'_>,
    key: &str,
    now: Instant,
) -> Option<Result<Reply, HttpError>> {
    let file = cache.get(key, now)?;
    if file.is_current() {
        return Some(serve_file(cfg, req, &file));
    }
    cache.remove(key);
    None
}

/// What a request target names.
enum Found {
    /// A regular file (or a directory's index file), open.
    File(CachedFile),
    /// Anything else, already answered: a listing or a redirect.
    Reply(Reply),
}

/// Resolves a request target safely and opens what it names, beneath the
/// root.
fn find(
    cfg: &Config,
    root: &Root,
    cache: &mut FileCache,
    resolved: &Resolved,
    target: &str,
    accept: Option<&str>,
    now: Instant,
) -> Result<Found, HttpError> {
    let opened = root.open(&resolved.segments).map_err(open_failure)?;
    match opened.file_type() {
        FileType::Directory => {
            // A directory is served only under a path that names it as one
            // (a final `/`, `/.` or `/..` as sent), so that the relative
            // links of a listing resolve: `/dir` and `/dir%2f` redirect.
            let raw_path = target.split(['?', '#']).next().unwrap_or_default();
            if !path::names_a_directory(raw_path) {
                return Ok(Found::Reply(Reply::redirect(path::redirect_location(
                    resolved,
                ))));
            }
            let mut index = resolved.segments.clone();
            index.push(cfg.index.clone());
            match root.open(&index) {
                Ok(file) if file.file_type() == FileType::RegularFile => {
                    return open(cfg, root, &index, file, now);
                }
                // No index file (or one that would not be served): list.
                Ok(_)
                | Err(
                    OpenError::NotFound
                    | OpenError::Escapes
                    | OpenError::Hidden
                    | OpenError::TooManyLinks,
                ) => {}
                Err(e) => return Err(open_failure(e)),
            }
            if !cfg.listing {
                return Err(HttpError::ListingDisabled);
            }
            list(cfg, root, cache, resolved, opened, accept, now).map(Found::Reply)
        }
        FileType::RegularFile if !resolved.trailing_slash => {
            open(cfg, root, &resolved.segments, opened, now)
        }
        _ => Err(HttpError::NotFound),
    }
}

/// The answer when a path cannot be opened beneath the root: not found for
/// what is not there or may not be served (outside the root, hidden), 403
/// for what the file system refuses, and for anything else (out of
/// descriptors or memory) unavailable and a warning, because the file is
/// there and the server is the one failing.
fn open_failure(e: OpenError) -> HttpError {
    match e {
        OpenError::NotFound | OpenError::Escapes | OpenError::Hidden | OpenError::TooManyLinks => {
            HttpError::NotFound
        }
        OpenError::Forbidden => HttpError::FileUnreadable,
        OpenError::Io(e) => io_failure(&e, HttpError::FileUnreadable),
    }
}

/// Describes an open regular file, found at `segments`, for the cache
/// (reading it whole if it is small), with its precompressed copies.
fn open(
    cfg: &Config,
    root: &Root,
    segments: &[String],
    opened: Opened,
    now: Instant,
) -> Result<Found, HttpError> {
    let name = Path::new(OsStr::from_bytes(&opened.name));
    let copies = if cfg.precompressed {
        precompressed(root, segments, name, &opened.stat, now)
    } else {
        Vec::new()
    };
    let mut file = CachedFile::representation(
        name,
        File::from(opened.fd),
        &opened.stat,
        now,
        None,
        !copies.is_empty(),
    )
    .map_err(|e| io_failure(&e, HttpError::FileUnreadable))?;
    file.variants = copies;
    Ok(Found::File(file))
}

/// The precompressed copies beside the file at `segments` (`app.js.br`,
/// `app.js.zst`, `app.js.gz` for `app.js`): each opened beneath the root as
/// any file is, a regular file, and not older than the file (a stale copy
/// would serve yesterday's script). Each keeps the original's Content-Type
/// (`name`'s) and has its own bytes and validators.
fn precompressed(
    root: &Root,
    segments: &[String],
    name: &Path,
    original: &Stat,
    now: Instant,
) -> Vec<(Coding, Rc<CachedFile>)> {
    let Some(last) = segments.last() else {
        return Vec::new();
    };
    let modified = FileStamp::from(original).mtime;
    let mut copies = Vec::new();
    for coding in Coding::ALL {
        let mut path = segments.to_vec();
        if let Some(end) = path.last_mut() {
            *end = format!("{last}{}", coding.suffix());
        }
        let Ok(copy) = root.open(&path) else { continue };
        if copy.file_type() != FileType::RegularFile || FileStamp::from(&copy.stat).mtime < modified
        {
            continue;
        }
        let stat = copy.stat;
        if let Ok(file) =
            CachedFile::representation(name, File::from(copy.fd), &stat, now, Some(coding), true)
        {
            copies.push((coding, Rc::new(file)));
        }
    }
    copies
}

/// The answer when the file system refuses: not found for what is gone,
/// `forbidden` for what may not be read, and for anything else (out of
/// descriptors or memory, an I/O error) unavailable and a warning, because
/// the file is there and the server is the one failing.
fn io_failure(e: &io::Error, forbidden: HttpError) -> HttpError {
    match e.kind() {
        // A name longer than the file system takes names no file: the
        // client chose it, so it is a 404, not a warning in the log.
        io::ErrorKind::NotFound
        | io::ErrorKind::NotADirectory
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::InvalidFilename => HttpError::NotFound,
        io::ErrorKind::PermissionDenied => forbidden,
        _ => {
            log::warn!("cannot serve a file: {e}");
            HttpError::Unavailable
        }
    }
}

/// Answers for a file: 200, 206, 304 or 416.
fn serve_file(cfg: &Config, req: &Request<'_>, f: &Rc<CachedFile>) -> Result<Reply, HttpError> {
    // The precompressed copy the client accepts, if any: from here on, its
    // own bytes and validators (ranges and conditionals apply to them).
    let f = f.for_accept(req.accept_encoding.as_deref());
    // RFC 9110 §13.2.2: If-None-Match takes precedence over If-Modified-Since.
    let not_modified = match (req.if_none_match.as_deref(), req.if_modified_since) {
        (Some(inm), _) => conditional::if_none_match_matches(inm, &f.etag),
        // The modification time, as Last-Modified shows it and every server
        // compares it; the ETag (which every browser sends too) also covers
        // a file whose modification time was set back.
        (None, Some(ims)) => conditional::not_modified_since(ims, f.mtime, SystemTime::now()),
        (None, None) => false,
    };
    if not_modified {
        let reply = Reply::new(304)
            .field("ETag", &f.etag)
            .field("Last-Modified", &f.last_modified);
        return Ok(if f.vary {
            reply.field("Vary", "Accept-Encoding")
        } else {
            reply
        });
    }
    let ranges = match req.range {
        Some(h)
            if req.if_range.is_none_or(|ir| {
                conditional::if_range_allows(ir, &f.etag, f.date_validators())
            }) =>
        {
            range::parse(h, f.len, cfg.max_ranges)
        }
        _ => RangeRequest::Full,
    };
    let partial = || {
        let mut reply = Reply::new(206)
            .field("Last-Modified", &f.last_modified)
            .field("ETag", &f.etag)
            .field("Accept-Ranges", "bytes");
        if let Some(coding) = f.encoding {
            reply = reply.field("Content-Encoding", coding.token());
        }
        if f.vary {
            reply = reply.field("Vary", "Accept-Encoding");
        }
        reply
    };
    Ok(match ranges {
        RangeRequest::Full => Reply::whole_file(f),
        RangeRequest::Unsatisfiable => return Err(HttpError::RangeNotSatisfiable { len: f.len }),
        RangeRequest::Ranges(ranges) if ranges.len() == 1 => {
            let r = &ranges[0];
            partial()
                .field("Content-Type", &f.content_type)
                .field("Content-Range", range::content_range(r, f.len))
                .body(r.end - r.start, Body::of(f.exact_part(r.clone())))
        }
        RangeRequest::Ranges(ranges) => {
            let boundary = byteranges::boundary();
            let content_type = format!("multipart/byteranges; boundary={boundary}");
            let body = ByteRanges::new(Rc::clone(f), ranges, boundary);
            partial()
                .field("Content-Type", content_type)
                .body(body.len(), Body::Producer(Box::new(body)))
        }
    })
}

/// The listing of a directory, from the cache when it was rendered less
/// than a second ago.
fn list(
    cfg: &Config,
    root: &Root,
    cache: &mut FileCache,
    resolved: &Resolved,
    dir: Opened,
    accept: Option<&str>,
    now: Instant,
) -> Result<Reply, HttpError> {
    let view =
        listing::View::parse(resolved.query.as_deref(), accept).map_err(HttpError::ListingQuery)?;
    // One reading of the directory serves every view of it for a second;
    // a view's rows are rendered once in that second when they fit in the
    // cache. Each costs its sender a unit of the loop's turn per entry.
    let dir_key = (dir.stat.st_dev, dir.stat.st_ino);
    let (read, rows) = match cache.listing(dir_key, view, now) {
        Some(found) => found,
        None => {
            let read = Rc::new(read_entries(cfg, root, resolved, &dir.fd)?);
            cache.insert_listing(dir_key, Rc::clone(&read), now);
            (read, None)
        }
    };
    let rows = rows.unwrap_or_else(|| {
        root.charge(read.entries().len() as u64);
        let rows = listing::render_rows(&read, view);
        let rows: Rc<[u8]> = Rc::from(rows.into_bytes());
        cache.insert_page(dir_key, view, Rc::clone(&rows));
        rows
    });
    let at_root = resolved.segments.is_empty();
    let head = listing::render_head(&resolved.path, at_root, view, cfg.upload);
    let len = (head.len() + rows.len()) as u64;
    let content_type = match view.format {
        listing::Format::Html => "text/html; charset=utf-8",
        listing::Format::Json => "application/json",
    };
    // Which format depends on Accept when the query names none.
    Ok(Reply::new(200)
        .field("Content-Type", content_type)
        .field("Vary", "Accept")
        .body(
            len,
            Body::Pieces(vec![Piece::from(head), Piece::Shared(rows)]),
        ))
}

/// What a listing shows of an entry.
struct EntryMeta {
    kind: FileType,
    size: u64,
    mtime: SystemTime,
}

impl EntryMeta {
    /// The entry `name` of `dir`, not following a symlink: with `statx`
    /// asking only for what is shown (a fifth cheaper than `fstatat` here,
    /// measured on 10,000 entries), or `fstatat` where there is no `statx`.
    fn of(dir: &OwnedFd, name: &str) -> Option<EntryMeta> {
        let flags = AtFlags::SYMLINK_NOFOLLOW | AtFlags::STATX_DONT_SYNC;
        let mask = StatxFlags::TYPE | StatxFlags::SIZE | StatxFlags::MTIME;
        match rustix::fs::statx(dir, name, flags, mask) {
            Ok(x) => Some(EntryMeta {
                kind: FileType::from_raw_mode(u32::from(x.stx_mode)),
                size: x.stx_size,
                mtime: time_of(x.stx_mtime.tv_sec, x.stx_mtime.tv_nsec),
            }),
            Err(Errno::NOSYS) => rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .ok()
                .map(|stat| EntryMeta::from(&stat)),
            Err(_) => None,
        }
    }
}

impl From<&Stat> for EntryMeta {
    fn from(stat: &Stat) -> EntryMeta {
        EntryMeta {
            kind: FileType::from_raw_mode(stat.st_mode),
            size: stat.st_size as u64,
            mtime: FileStamp::from(stat).mtime,
        }
    }
}

/// The entries of the directory open as `dir` that would be served, exactly:
/// names that can be asked for ([`path::is_servable_name`]), not hidden
/// unless hidden files are served, regular files and directories only.
/// Each entry costs one `statat` without following links, beneath `dir`;
/// only a symlink is resolved, beneath the root as a request would be, so
/// that a link out of the root (or to a dotfile) shows neither its name
/// nor its target's size and time.
fn read_entries(
    cfg: &Config,
    root: &Root,
    resolved: &Resolved,
    dir: &OwnedFd,
) -> Result<listing::DirRead, HttpError> {
    let unreadable = |e: Errno| io_failure(&e.into(), HttpError::DirectoryUnreadable);
    let mut entries = Vec::new();
    let mut dirs = None;
    let started = Instant::now();
    // The names a listing may show: servable, and not hidden unless hidden
    // files are served (a name that is not UTF-8 could not be requested).
    let shown = |entry: &rustix::fs::DirEntry| {
        let name = entry.file_name().to_str().ok()?;
        (path::is_servable_name(name) && (cfg.hidden || !name.starts_with('.')))
            .then(|| name.to_string())
    };
    // What an entry left unread adds to the count: one for a file or a
    // directory a listing would show, nothing for a fifo, socket or device
    // or a name not shown; `None` for a symlink (whose target was not
    // looked at: that is what ran out of time) or an entry whose type the
    // file system does not say, which makes the count a lower bound.
    let tally = |entry: &rustix::fs::DirEntry| match entry.file_type() {
        _ if shown(entry).is_none() => Some(0),
        FileType::RegularFile | FileType::Directory => Some(1),
        FileType::Symlink | FileType::Unknown => None,
        _ => Some(0),
    };
    let mut read = Dir::read_from(dir).map_err(unreadable)?;
    let mut seen = 0usize;
    let mut resolved_link = false;
    while let Some(entry) = read.next() {
        seen += 1;
        // The clock is read every 64 entries, and after a symlink (whose
        // resolution, in the kernel, can be slow by design).
        let after_link = std::mem::take(&mut resolved_link);
        if (seen.is_multiple_of(64) || after_link) && started.elapsed() > cfg.listing_budget {
            // Out of time: what is left is counted, not looked at (reading
            // names alone is cheap), and the page says so. Counting has a
            // bound too: past it, or past an error, the count is a lower
            // bound.
            let (mut names, mut exact, mut read_more) = (0, true, 0);
            for (i, e) in std::iter::once(entry).chain(read.by_ref()).enumerate() {
                read_more = i;
                // Past the bound, the entry is read but not looked at.
                if i > listing::COUNT_MAX {
                    exact = false;
                    break;
                }
                match e.as_ref().map(tally) {
                    Ok(Some(n)) => names += n,
                    Ok(None) => exact = false,
                    Err(_) => {
                        exact = false;
                        break;
                    }
                }
            }
            return Ok(dir_read(root, entries, seen + read_more, names, exact));
        }
        let entry = entry.map_err(unreadable)?;
        let Some(name) = shown(&entry) else { continue };
        let name = name.as_str();
        let mut is_link = false;
        let meta = match EntryMeta::of(dir, name) {
            Some(meta) if meta.kind == FileType::Symlink => {
                is_link = true;
                // Resolved as a request for it would be, from the
                // directories down to this one, opened once per listing.
                if dirs.is_none() {
                    dirs = Some(root.dirs(&resolved.segments));
                }
                let Some(Ok(dirs)) = &dirs else { continue };
                let opened = root.open_in(dirs, name);
                resolved_link = true;
                match opened {
                    Ok(opened) => EntryMeta::from(&opened.stat),
                    Err(_) => continue,
                }
            }
            Some(meta) => meta,
            None => continue, // gone since it was read
        };
        let is_dir = match meta.kind {
            FileType::Directory => true,
            FileType::RegularFile => false,
            _ => continue,
        };
        entries.push(listing::Entry {
            name: name.to_string(),
            is_dir,
            is_link,
            size: meta.size,
            modified: Some(meta.mtime),
        });
    }
    Ok(dir_read(root, entries, seen, 0, true))
}

/// What [`read_entries`] found, having looked at `seen` entries (each
/// charged as a unit of work, as a `statx` is about one) and counted
/// `names` more it left out.
fn dir_read(
    root: &Root,
    entries: Vec<listing::Entry>,
    seen: usize,
    names: usize,
    exact: bool,
) -> listing::DirRead {
    root.charge(seen as u64);
    listing::DirRead::new(entries, listing::Omitted { names, exact })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of a reply as text.
    fn fields(reply: &Reply) -> String {
        match &reply.fields {
            Fields::Owned(f) => String::from_utf8_lossy(f).into_owned(),
            Fields::Shared(f) => {
                String::from_utf8_lossy(f.strip_suffix(HEAD_END).unwrap()).into_owned()
            }
        }
    }

    #[test]
    fn file_system_failures_map_to_statuses() {
        let emfile = rustix::io::Errno::MFILE.raw_os_error();
        let cases = [
            (io::Error::from(io::ErrorKind::NotFound), 404),
            (io::Error::from(io::ErrorKind::NotADirectory), 404),
            (io::Error::from(io::ErrorKind::PermissionDenied), 403),
            // The file is there; the server is the one failing.
            (io::Error::from_raw_os_error(emfile), 503),
            (io::Error::from(io::ErrorKind::OutOfMemory), 503),
            (io::Error::other("disk on fire"), 503),
        ];
        for (e, status) in cases {
            let reply = Reply::from_error(io_failure(&e, HttpError::FileUnreadable));
            assert_eq!(reply.status, status, "{e}");
            assert_eq!(
                fields(&reply).contains("Retry-After: 1\r\n"),
                status == 503,
                "{e}"
            );
        }
    }
}
