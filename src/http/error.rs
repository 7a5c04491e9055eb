//! Why a request cannot be served: one error type for the HTTP layer, with
//! the mapping from cause to status code in one `match`.
//!
//! An [`HttpError`] names what went wrong (`ConflictingLengths`,
//! `HostMissing`, `NotFound`, ...), never which number to send: the number
//! is [`HttpError::status`], and the words for the error page and the log
//! are its `Display`. Where an error is raised decides what happens to the
//! connection. Errors found while reading a request (its head, its framing,
//! its timing) are answered and the connection is closed, since the rest of
//! its input can no longer be trusted; errors found while answering a
//! well-framed request (a missing file, a method this server does not
//! allow) are answered and the connection goes on.

use std::fmt;

use super::path::PathError;

/// A request that cannot be served, by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    // The request line and the head.
    /// The request line is not `METHOD SP target SP HTTP/x.y`.
    RequestLineMalformed,
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1.
    VersionUnsupported,
    /// The head ended before `httparse` saw all of it.
    HeadIncomplete,
    /// A field line is malformed (no colon, space before the colon, a
    /// folded line, a control byte).
    HeadMalformed,
    /// More than [`super::head::MAX_HEADERS`] field lines.
    TooManyFields,
    /// The request line alone is over the head limit.
    RequestLineTooLong,
    /// The head is over its limit.
    HeadTooLarge,
    /// A field this server reads has a value that is not UTF-8.
    FieldNotUtf8,
    /// An HTTP/1.1 request without a Host field.
    HostMissing,
    /// More than one Host field.
    HostRepeated,
    /// A Host field that is not `uri-host [ ":" port ]` (RFC 9112 §3.2,
    /// RFC 3986 §3.2.2): spaces, userinfo, a path, bytes a host cannot hold.
    HostInvalid,
    // The framing of the body (RFC 9112 §6).
    /// A Content-Length value that is not a decimal number.
    LengthMalformed,
    /// A Content-Length that does not fit in 64 bits.
    LengthOverflow,
    /// Content-Length values that differ.
    ConflictingLengths,
    /// Both Content-Length and Transfer-Encoding.
    LengthAndEncoding,
    /// Transfer-Encoding in an HTTP/1.0 request, whose framing it cannot
    /// define.
    EncodingInHttp10,
    /// A Transfer-Encoding field with no coding in it.
    EncodingEmpty,
    /// A coding after `chunked`, or `chunked` twice.
    ChunkedNotLast,
    /// Transfer codings that do not end in `chunked`.
    UnsupportedCoding,
    /// A chunk-size line that is not hex digits and extensions.
    ChunkSizeMalformed,
    /// A chunk size that does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A chunk-size, chunk-end or trailer line over its limit.
    ChunkLineTooLong,
    /// Chunk data not followed by a line end.
    ChunkNotTerminated,
    /// More trailer fields, or bytes of them, than a head may have.
    TooManyTrailers,
    /// A body over the limit, announced or counted.
    BodyTooLarge,
    /// The request did not arrive in time.
    Timeout,
    // Answering a well-framed request.
    /// A method this server knows but does not allow (POST, PUT, ...).
    MethodNotAllowed,
    /// The server wants credentials (`--auth`) and the request has none
    /// that match.
    Unauthorized,
    /// A method this server does not know.
    MethodUnknown,
    /// The target cannot be turned into a safe path.
    BadPath(PathError),
    /// Nothing is served at this path.
    NotFound,
    /// A directory without an index file, and listings are off.
    ListingDisabled,
    /// A listing's query asks for what there is not (`?sort=colour`): the
    /// words say what there is.
    ListingQuery(&'static str),
    /// The file system refused to open the file.
    FileUnreadable,
    /// The file system refused to read the directory.
    DirectoryUnreadable,
    /// The server is failing (out of descriptors or memory, an I/O error),
    /// not the request.
    Unavailable,
    /// An upload's directory does not exist, or a component of its path is
    /// a file.
    UploadParentMissing,
    /// An upload's target is something other than a file or a symlink (a
    /// FIFO, a socket).
    UploadNotAFile,
    /// An upload's target is a directory (`PUT /inbox/`): no file to store.
    UploadIsDirectory,
    /// An upload's file name has a control byte, is too long (over 255
    /// bytes), or cannot be a name (`.`, `..`, empty).
    UploadNameInvalid,
    /// Uploading there is not allowed: a hidden name (without `--hidden`),
    /// a path leaving the root, or the file system refused (`EACCES`,
    /// `EROFS`).
    UploadForbidden,
    /// An upload larger than `--max-upload`.
    UploadTooLarge,
    /// `If-None-Match: *` and the file exists, or `If-Match` and it is not
    /// (or no longer) that version.
    PreconditionFailed,
    /// The disk is full or the quota used up (`ENOSPC`, `EDQUOT`), or the
    /// file would be larger than the process may write (`EFBIG`).
    InsufficientStorage,
    /// A POST whose body is not `multipart/form-data` with a boundary.
    FormNotMultipart,
    /// A `multipart/form-data` body that breaks its framing.
    FormMalformed,
    /// A form with more files than one form may store.
    FormTooManyFiles,
    /// No range of the Range field lies inside the file, which is this long.
    RangeNotSatisfiable {
        /// The file's length, for `Content-Range: bytes */len`.
        len: u64,
    },
}

impl HttpError {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        use HttpError::*;
        match self {
            RequestLineMalformed | HeadIncomplete | HeadMalformed | FieldNotUtf8 | HostMissing
            | HostRepeated | HostInvalid | LengthMalformed | LengthOverflow
            | ConflictingLengths | LengthAndEncoding | EncodingInHttp10 | EncodingEmpty
            | ChunkedNotLast | ChunkSizeMalformed | ChunkSizeOverflow | ChunkLineTooLong
            | ChunkNotTerminated | TooManyTrailers | BadPath(_) | ListingQuery(_)
            | UploadNameInvalid | FormMalformed => 400,
            Unauthorized => 401,
            ListingDisabled | FileUnreadable | DirectoryUnreadable | UploadForbidden => 403,
            NotFound => 404,
            MethodNotAllowed | UploadIsDirectory => 405,
            Timeout => 408,
            UploadParentMissing | UploadNotAFile => 409,
            PreconditionFailed => 412,
            BodyTooLarge | UploadTooLarge | FormTooManyFiles => 413,
            FormNotMultipart => 415,
            RequestLineTooLong => 414,
            RangeNotSatisfiable { .. } => 416,
            TooManyFields | HeadTooLarge => 431,
            UnsupportedCoding | MethodUnknown => 501,
            Unavailable => 503,
            VersionUnsupported => 505,
            InsufficientStorage => 507,
        }
    }
}

/// What was wrong, in a few words, for the error page and the log.
impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HttpError::*;
        f.write_str(match self {
            RequestLineMalformed => "malformed request line",
            VersionUnsupported => "only HTTP/1.0 and HTTP/1.1 are supported",
            HeadIncomplete => "incomplete head",
            HeadMalformed => "malformed head",
            TooManyFields => "too many header fields",
            RequestLineTooLong => "the request line is too long",
            HeadTooLarge => "the request head is too large",
            FieldNotUtf8 => "header value is not UTF-8",
            // Also the words a repeated Host had before it had its own.
            HostMissing => "HTTP/1.1 needs exactly one Host field",
            HostRepeated => "more than one Host field",
            HostInvalid => "the Host field is not a host and port",
            LengthMalformed => "Content-Length is not a number",
            LengthOverflow => "Content-Length is too large",
            ConflictingLengths => "conflicting Content-Length values",
            LengthAndEncoding => "both Content-Length and Transfer-Encoding",
            EncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            EncodingEmpty => "empty Transfer-Encoding",
            ChunkedNotLast => "chunked must be the final coding, once",
            UnsupportedCoding => "the final transfer coding must be chunked",
            ChunkSizeMalformed => "malformed chunk size",
            ChunkSizeOverflow => "chunk size too large",
            ChunkLineTooLong => "chunk line too long",
            ChunkNotTerminated => "chunk data is not followed by CRLF",
            TooManyTrailers => "too many trailer fields",
            BodyTooLarge => "the request body is too large",
            Timeout => "the request took too long",
            MethodNotAllowed => "this server only serves files",
            Unauthorized => "This server needs a user name and password.",
            MethodUnknown => "unknown method",
            BadPath(e) => return write!(f, "{e}"),
            NotFound => "There is no such file here.",
            ListingDisabled => "Directory listing is disabled.",
            ListingQuery(words) => words,
            FileUnreadable => "This file cannot be read.",
            DirectoryUnreadable => "This directory cannot be read.",
            Unavailable => "The server cannot serve this right now; try again.",
            RangeNotSatisfiable { .. } => "The requested range is outside the file.",
            UploadParentMissing => "The directory to store the file in does not exist.",
            UploadNotAFile => "Something that is not a file is in the way.",
            UploadIsDirectory => "A directory cannot be replaced; name a file in it.",
            UploadNameInvalid => "That file name cannot be stored.",
            UploadForbidden => "This server may not write there.",
            UploadTooLarge => "The upload is larger than this server takes.",
            PreconditionFailed => "The file is not the version the request names.",
            InsufficientStorage => "There is no room left to store the file.",
            FormNotMultipart => "An upload form must be sent as multipart/form-data.",
            FormMalformed => "The multipart/form-data body is malformed.",
            FormTooManyFiles => "A form may upload at most 100 files at once.",
        })
    }
}

impl std::error::Error for HttpError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_an_error_status_and_words() {
        use HttpError::*;
        let all = [
            RequestLineMalformed,
            VersionUnsupported,
            HeadIncomplete,
            HeadMalformed,
            TooManyFields,
            RequestLineTooLong,
            HeadTooLarge,
            FieldNotUtf8,
            HostMissing,
            HostRepeated,
            HostInvalid,
            LengthMalformed,
            LengthOverflow,
            ConflictingLengths,
            LengthAndEncoding,
            EncodingInHttp10,
            EncodingEmpty,
            ChunkedNotLast,
            UnsupportedCoding,
            ChunkSizeMalformed,
            ChunkSizeOverflow,
            ChunkLineTooLong,
            ChunkNotTerminated,
            TooManyTrailers,
            BodyTooLarge,
            Timeout,
            MethodNotAllowed,
            Unauthorized,
            MethodUnknown,
            BadPath(PathError::AboveRoot),
            NotFound,
            ListingDisabled,
            ListingQuery("sort must be name, size or mtime"),
            FileUnreadable,
            DirectoryUnreadable,
            Unavailable,
            RangeNotSatisfiable { len: 5 },
            UploadParentMissing,
            UploadNotAFile,
            UploadIsDirectory,
            UploadNameInvalid,
            UploadForbidden,
            UploadTooLarge,
            PreconditionFailed,
            InsufficientStorage,
            FormNotMultipart,
            FormMalformed,
            FormTooManyFiles,
        ];
        for e in all {
            assert!((400..600).contains(&e.status()), "{e:?}");
            assert!(
                super::super::status::reason(e.status()) != "Unknown",
                "{e:?}: no reason phrase for {}",
                e.status()
            );
            assert!(!e.to_string().is_empty(), "{e:?}");
        }
        assert_eq!(
            BadPath(PathError::AboveRoot).to_string(),
            PathError::AboveRoot.to_string()
        );
    }
}
