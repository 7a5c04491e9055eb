//! Open files and their rendered response fields, reused across requests.
//!
//! Resolving a request path safely (decode, normalise, canonicalise, check
//! containment and dotfiles), opening the file and rendering its validators
//! costs a dozen system calls and a few thousand instructions; serving the
//! same file again should cost neither. An entry is keyed by the request
//! path as sent (up to `?`), holds everything a response needs, and is
//! trusted for [`FileCache::TTL`]: after that it is dropped and the path is
//! resolved from scratch, so a file changed, replaced or removed on disk is
//! seen within that time (nginx's `open_file_cache_valid` is the same idea,
//! with a default of 60 s).
//!
//! Small files are kept whole in memory, shared by every response that
//! sends them, so pipelined responses gather into one `writev`; larger
//! files are sent from the shared descriptor with `sendfile`, which takes an
//! explicit offset and so never disturbs another response's position.

use std::borrow::Cow;
use std::collections::HashMap;

/// The maps' hasher: foldhash, several times cheaper than std's SipHash on
/// the short paths of every request. Its per-process seed is no promise
/// against chosen collisions (foldhash does not claim HashDoS resistance),
/// and none is needed: the keys are files that exist, at most
/// [`FileCache::CAPACITY`] of them, so a lookup compares against a bounded few.
type Hasher = foldhash::fast::RandomState;
use std::fs::File;
use std::io::{self, Write as _};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::Stat;

use super::encoding::{self, Coding};
use super::{conditional, date, listing, mime};
use crate::producer::{FileProducer, FileStamp, Piece};

/// Where a cached file's bytes are sent from.
pub enum Body {
    /// The whole contents, for a file of at most [`FileCache::SMALL`]
    /// bytes, shared by every response that sends them; the file itself is
    /// closed.
    InMemory(Rc<[u8]>),
    /// The open file, shared by every response that sends it with
    /// `sendfile`.
    OnDisk(Rc<File>),
}

/// Some bytes of a cached file, as [`CachedFile::part`] gives them.
pub enum Part {
    /// A slice of the contents kept in memory.
    Bytes(Piece),
    /// Spans of the open file, for `sendfile`.
    Spans(FileProducer),
}

/// A regular file ready to be served.
pub struct CachedFile {
    /// Its bytes, in memory or on disk.
    pub body: Body,
    /// The version of the file that the bytes and every field describe.
    pub stamp: Rc<FileStamp>,
    /// Its length when opened.
    pub len: u64,
    /// Its modification time when opened.
    pub mtime: SystemTime,
    /// The strong validator.
    pub etag: String,
    /// `Last-Modified`, as an IMF-fixdate.
    pub last_modified: String,
    /// `Content-Type`.
    pub content_type: Cow<'static, str>,
    /// The fields of a 200 after `Date`: Last-Modified, ETag,
    /// Accept-Ranges, Content-Type and Content-Length, each with its CRLF,
    /// then the CRLF of the empty line that ends a keep-alive head.
    pub fields_200: Rc<[u8]>,
    /// The content coding of these bytes: `None` for the file as it is,
    /// the coding of a precompressed copy otherwise.
    pub encoding: Option<Coding>,
    /// The file has precompressed copies, so every response for it says
    /// `Vary: Accept-Encoding` (a cache must not give one client's copy to
    /// another that cannot decode it).
    pub vary: bool,
    /// The precompressed copies of the file, which have their own bytes and
    /// validators (`app.js.br` for `app.js`), in the order of
    /// [`Coding::ALL`].
    pub variants: Vec<(Coding, Rc<CachedFile>)>,
    /// When the entry was made.
    made: Instant,
}

impl CachedFile {
    /// Describes an open regular file whose status is `stat`; `name`, its
    /// file name, gives its Content-Type.
    ///
    /// A small file is read whole, and kept only if its stamp is the same
    /// after the read as before, so that its bytes and its validators are
    /// of one version; one that keeps changing while it is read (three
    /// times) is served from the disk instead, checked as it is sent.
    ///
    /// # Errors
    ///
    /// The error from reading the file or its status.
    pub fn new(name: &Path, file: File, stat: &Stat, now: Instant) -> io::Result<CachedFile> {
        CachedFile::representation(name, file, stat, now, None, false)
    }

    /// [`CachedFile::new`] for one representation of a file: `encoding`
    /// names the coding of a precompressed copy (whose Content-Type is
    /// still the original's, from `name`), `vary` says the file has such
    /// copies. Both show in the fields; a copy's entity tag ends in its
    /// coding, so no two representations share a validator.
    ///
    /// # Errors
    ///
    /// As [`CachedFile::new`].
    pub fn representation(
        name: &Path,
        file: File,
        stat: &Stat,
        now: Instant,
        encoding: Option<Coding>,
        vary: bool,
    ) -> io::Result<CachedFile> {
        let mut stamp = FileStamp::from(stat);
        let mut contents = None;
        for _ in 0..3 {
            if stamp.len > FileCache::SMALL {
                break;
            }
            let mut buf = vec![0; stamp.len as usize];
            let read = file.read_exact_at(&mut buf, 0);
            let after = FileStamp::of(&file)?;
            if after == stamp {
                read?;
                contents = Some(buf);
                break;
            }
            stamp = after;
        }
        let body = match contents {
            Some(buf) => Body::InMemory(Rc::from(buf)),
            None => Body::OnDisk(Rc::new(file)),
        };
        let (len, mtime) = (stamp.len, stamp.mtime);
        let mut etag = conditional::etag(&stamp);
        if let Some(coding) = encoding {
            // `"...-br"`: the tag of the copy, never the original's.
            etag.insert_str(etag.len() - 1, &format!("-{}", coding.token()));
        }
        let last_modified = date::fmt_http_date(mtime);
        let content_type = mime::content_type(name);
        let mut fields = Vec::with_capacity(192);
        // Writing to a Vec cannot fail.
        let _ = write!(
            fields,
            "Last-Modified: {last_modified}\r\nETag: {etag}\r\nAccept-Ranges: bytes\r\n\
             Content-Type: {content_type}\r\n"
        );
        if let Some(coding) = encoding {
            let _ = write!(fields, "Content-Encoding: {}\r\n", coding.token());
        }
        if vary {
            fields.extend_from_slice(b"Vary: Accept-Encoding\r\n");
        }
        let _ = write!(fields, "Content-Length: {len}\r\n\r\n");
        Ok(CachedFile {
            body,
            stamp: Rc::new(stamp),
            len,
            mtime,
            etag,
            last_modified,
            content_type,
            fields_200: Rc::from(fields),
            encoding,
            vary,
            variants: Vec::new(),
            made: now,
        })
    }

    /// The representation to send to a client whose `Accept-Encoding` is
    /// `accept`: a precompressed copy it accepts (see
    /// [`encoding::choose`]), or the file as it is.
    pub fn for_accept(self: &Rc<Self>, accept: Option<&str>) -> &Rc<CachedFile> {
        if self.variants.is_empty() {
            return self;
        }
        let mut available = [Coding::Br; 3];
        for (slot, (coding, _)) in available.iter_mut().zip(&self.variants) {
            *slot = *coding;
        }
        let chosen = encoding::choose(accept, &available[..self.variants.len()]);
        match self.variants.iter().find(|(c, _)| Some(*c) == chosen) {
            Some((_, copy)) => copy,
            None => self,
        }
    }

    /// What a date in `If-Range` is compared with, now.
    pub fn date_validators(&self) -> conditional::DateValidators {
        conditional::DateValidators {
            mtime: self.stamp.mtime,
            ctime: self.stamp.ctime,
            now: SystemTime::now(),
        }
    }

    /// True while the entry still describes the file: always for one held
    /// in memory (its bytes and validators are one version, however the
    /// file changed since), and for one sent from the disk while the open
    /// file's stamp is unchanged. One `fstat`.
    pub fn is_current(&self) -> bool {
        let this = match &self.body {
            Body::InMemory(_) => true,
            Body::OnDisk(file) => FileStamp::of(file).is_ok_and(|now| now == *self.stamp),
        };
        this && self.variants.iter().all(|(_, copy)| copy.is_current())
    }

    /// The bytes in `range` (which lies inside the file), never copied: a
    /// shared slice of the contents held in memory, or spans of the open
    /// file, checked against its stamp as they are sent.
    pub fn part(&self, range: Range<u64>) -> Part {
        self.part_of(range, false)
    }

    /// [`CachedFile::part`], for a response whose validators a client will
    /// rely on to put pieces together (a 206): spans from the disk are
    /// copied through memory, checked after each read, rather than sent
    /// with `sendfile`, whose bytes are read from the file only when the
    /// kernel transmits them ([`FileSpan::copy`](crate::FileSpan::copy)).
    pub fn exact_part(&self, range: Range<u64>) -> Part {
        self.part_of(range, true)
    }

    fn part_of(&self, range: Range<u64>, exact: bool) -> Part {
        match &self.body {
            Body::InMemory(contents) => Part::Bytes(Piece::slice(
                contents,
                range.start as usize..range.end as usize,
            )),
            Body::OnDisk(file) => {
                let spans =
                    FileProducer::new(Rc::clone(file), range.start, range.end - range.start)
                        .stamped(Rc::clone(&self.stamp));
                Part::Spans(if exact { spans.copied() } else { spans })
            }
        }
    }
}

/// Which directory: its device and inode, so that every path it is reached
/// by (`/big/`, `/big/self/`) shares one reading and its pages.
pub type DirKey = (u64, u64);

/// A directory's reading, and its rows rendered in the view asked for when
/// they are kept ([`FileCache::listing`]).
pub type KeptListing = (Rc<listing::DirRead>, Option<Rc<[u8]>>);

/// A directory as read for its listing, and the pages rendered from that
/// reading, one per view asked for: all of them shown for a second.
struct Listing {
    read: Rc<listing::DirRead>,
    /// The rendered rows, by view.
    pages: Vec<(listing::View, Rc<[u8]>)>,
    /// What the reading and the pages hold, in bytes.
    bytes: usize,
    made: Instant,
}

/// Request paths mapped to the files they resolved to, and directories to
/// their rendered listings.
pub struct FileCache {
    entries: HashMap<Box<str>, Rc<CachedFile>, Hasher>,
    /// Directories read for their listings, and their rendered rows.
    listings: HashMap<DirKey, Listing, Hasher>,
    /// Bytes of the listings held.
    listing_bytes: usize,
    /// When the oldest entry expires: the next purge is due.
    next_purge: Option<Instant>,
}

impl FileCache {
    /// How long an entry is trusted without looking at the disk again.
    pub const TTL: Duration = Duration::from_secs(1);
    /// Files up to this size are kept in memory.
    pub const SMALL: u64 = 32 * 1024;
    /// The most entries, and so the most descriptors the cache holds open;
    /// when full, the cache starts afresh (a simple bound that costs nothing
    /// per request).
    pub const CAPACITY: usize = 1024;
    /// The most bytes of directory readings and rendered listings kept;
    /// past it the oldest directories go first, and a directory's pages
    /// that would not fit are rendered again when asked for. A 10,000-entry
    /// listing is about 1.3 MB rendered, a sixth of that read.
    pub const LISTING_BYTES: usize = 32 << 20;

    /// An empty cache.
    pub fn new() -> FileCache {
        FileCache {
            entries: HashMap::default(),
            listings: HashMap::default(),
            listing_bytes: 0,
            next_purge: None,
        }
    }

    /// The file `key` resolved to less than [`FileCache::TTL`] ago.
    pub fn get(&mut self, key: &str, now: Instant) -> Option<Rc<CachedFile>> {
        let entry = self.entries.get(key)?;
        if now.duration_since(entry.made) < FileCache::TTL {
            return Some(Rc::clone(entry));
        }
        self.entries.remove(key);
        None
    }

    /// Forgets what `key` resolved to.
    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Remembers what the path `key` resolved to. The key is the path's
    /// canonical spelling ([`super::path::encode_path`] of its resolved
    /// segments), so that every spelling of one file (`/./a`, `//a`,
    /// `/%61`) finds the one entry, and no client can fill the cache, or
    /// hold descriptors and copies, with spellings: each entry is another
    /// file.
    pub fn insert(&mut self, key: &str, file: Rc<CachedFile>, now: Instant) {
        if self.entries.len() >= FileCache::CAPACITY {
            self.entries.clear();
        }
        self.entries.insert(key.into(), file);
        self.next_purge.get_or_insert(now + FileCache::TTL);
    }

    /// Drops the entries (files and listings) past their lifetime, when any
    /// is due, so that nothing is held (a deleted file's descriptor, a
    /// listing's bytes) longer than [`FileCache::TTL`] after it was made,
    /// busy server or quiet. Returns when the next entry expires, for the
    /// loop to wake then; `None` when the cache is empty. Costs a comparison
    /// when nothing is due.
    pub fn purge(&mut self, now: Instant) -> Option<Instant> {
        if self.next_purge.is_none_or(|due| now < due) {
            return self.next_purge;
        }
        let live = |made: Instant| now.duration_since(made) < FileCache::TTL;
        self.entries.retain(|_, f| live(f.made));
        let mut freed = 0;
        self.listings.retain(|_, l| {
            let keep = live(l.made);
            if !keep {
                freed += l.bytes;
            }
            keep
        });
        self.listing_bytes -= freed;
        let oldest = self
            .entries
            .values()
            .map(|f| f.made)
            .chain(self.listings.values().map(|l| l.made))
            .min();
        self.next_purge = oldest.map(|made| made + FileCache::TTL);
        self.next_purge
    }
}

impl FileCache {
    /// The directory `dir` as read less than [`FileCache::TTL`] ago, and its
    /// rows rendered in `view` if they are kept.
    pub fn listing(
        &mut self,
        dir: DirKey,
        view: listing::View,
        now: Instant,
    ) -> Option<KeptListing> {
        let listing = self.listings.get(&dir)?;
        if now.duration_since(listing.made) < FileCache::TTL {
            let page = listing.pages.iter().find(|(v, _)| *v == view);
            return Some((Rc::clone(&listing.read), page.map(|(_, p)| Rc::clone(p))));
        }
        self.listing_bytes -= listing.bytes;
        self.listings.remove(&dir);
        None
    }

    /// Keeps the directory `dir` as `read` for a second, so that clients
    /// looping on a large directory cost one reading per second, whatever
    /// views they ask for, rather than one per request. Over
    /// [`FileCache::LISTING_BYTES`], the oldest directories go first.
    pub fn insert_listing(&mut self, dir: DirKey, read: Rc<listing::DirRead>, now: Instant) {
        if let Some(old) = self.listings.remove(&dir) {
            self.listing_bytes -= old.bytes;
        }
        let bytes = read.bytes();
        self.make_room(bytes, None);
        self.listing_bytes += bytes;
        self.next_purge.get_or_insert(now + FileCache::TTL);
        let listing = Listing {
            read,
            pages: Vec::new(),
            bytes,
            made: now,
        };
        self.listings.insert(dir, listing);
    }

    /// Keeps the rows of the directory `dir` rendered in `view`, for as
    /// long as its reading is kept: the newest page is always kept, other
    /// directories' pages, then this one's, then other directories'
    /// readings making room, so that clients asking for one view share one
    /// page.
    pub fn insert_page(&mut self, dir: DirKey, view: listing::View, page: Rc<[u8]>) {
        if !self.listings.contains_key(&dir) {
            return;
        }
        self.make_room(page.len(), Some(dir));
        if let Some(listing) = self.listings.get_mut(&dir) {
            self.listing_bytes += page.len();
            listing.bytes += page.len();
            listing.pages.push((view, page));
        }
    }

    /// Forgets the listing of the directory `dir`: it changed (an upload
    /// stored a file in it), and the next request reads it again.
    pub fn forget_listing(&mut self, dir: DirKey) {
        if let Some(gone) = self.listings.remove(&dir) {
            self.listing_bytes -= gone.bytes;
        }
    }

    /// Drops what is oldest until `bytes` more fit, or nothing is left to
    /// drop but `keep`'s reading: first the pages of other directories
    /// (rendering again is cheap), then `keep`'s own other pages, then
    /// other directories' readings (reading again is dear).
    fn make_room(&mut self, bytes: usize, keep: Option<DirKey>) {
        let over = |cache: &FileCache| cache.listing_bytes + bytes > FileCache::LISTING_BYTES;
        for own in [false, true] {
            while over(self) {
                let with_pages = self
                    .listings
                    .iter_mut()
                    .filter(|(k, l)| (Some(**k) == keep) == own && !l.pages.is_empty())
                    .min_by_key(|(_, l)| l.made);
                let Some((_, listing)) = with_pages else {
                    break;
                };
                let freed: usize = listing.pages.drain(..).map(|(_, p)| p.len()).sum();
                listing.bytes -= freed;
                self.listing_bytes -= freed;
            }
        }
        while over(self) {
            let others = self.listings.iter().filter(|(k, _)| Some(**k) != keep);
            let Some((&oldest, _)) = others.min_by_key(|(_, l)| l.made) else {
                break;
            };
            if let Some(gone) = self.listings.remove(&oldest) {
                self.listing_bytes -= gone.bytes;
            }
        }
    }
}

impl Default for FileCache {
    fn default() -> FileCache {
        FileCache::new()
    }
}

#[cfg(test)]
mod tests {

    /// Listings: one reading per directory serves every view; pages are
    /// kept beside it while they fit; past the bound the oldest directory
    /// goes, and a page that fits nowhere is not kept (and is rendered
    /// again when asked for).
    #[test]
    fn listings_share_one_reading_and_keep_to_their_bound() {
        use super::listing::{DirRead, Entry, Omitted, Order, View};
        use super::{Duration, FileCache, Instant, Rc};
        let now = Instant::now();
        let read = |names: usize| {
            let entries = (0..names)
                .map(|i| Entry {
                    name: format!("f{i}"),
                    is_dir: false,
                    is_link: false,
                    size: 0,
                    modified: None,
                })
                .collect();
            Rc::new(DirRead::new(entries, Omitted::NONE))
        };
        let desc = View {
            order: Order::Desc,
            ..View::default()
        };
        let mut cache = FileCache::new();
        cache.insert_listing((1, 1), read(3), now);
        let (got, page) = cache.listing((1, 1), View::default(), now).unwrap();
        assert_eq!(got.entries().len(), 3);
        assert!(page.is_none(), "no view rendered yet");
        cache.insert_page((1, 1), View::default(), Rc::from(&b"rows"[..]));
        let (_, page) = cache.listing((1, 1), View::default(), now).unwrap();
        assert_eq!(page.as_deref(), Some(&b"rows"[..]));
        let (_, page) = cache.listing((1, 1), desc, now).unwrap();
        assert!(page.is_none(), "another view, the same reading");
        assert!(
            cache.listing((1, 2), desc, now).is_none(),
            "another directory"
        );

        // The newest page is kept, the directory's other pages making room
        // for it (every client asking for that view then shares it).
        let big = FileCache::LISTING_BYTES - 50;
        cache.insert_page((1, 1), desc, vec![b'x'; big].into());
        let (_, page) = cache.listing((1, 1), desc, now).unwrap();
        assert_eq!(page.map(|p| p.len()), Some(big));
        let (_, page) = cache.listing((1, 1), View::default(), now).unwrap();
        assert!(page.is_none(), "the older page made room");
        // Another directory's page makes room by dropping the other pages
        // first; the readings, dear to make again, stay.
        let later = now + Duration::from_millis(10);
        cache.insert_listing((1, 2), read(1), later);
        cache.insert_page((1, 2), View::default(), vec![b'y'; 2000].into());
        let (reading, page) = cache.listing((1, 1), desc, later).unwrap();
        assert_eq!(reading.entries().len(), 3, "the reading stayed");
        assert!(page.is_none(), "its page went first");
        assert!(
            cache
                .listing((1, 2), View::default(), later)
                .unwrap()
                .1
                .is_some()
        );
        assert!(cache.listing_bytes <= FileCache::LISTING_BYTES);
        // Readings go too when pages are not enough.
        cache.insert_page(
            (1, 2),
            desc,
            vec![b'z'; FileCache::LISTING_BYTES - 100].into(),
        );
        assert!(
            cache.listing((1, 1), desc, later).is_none(),
            "the oldest reading went"
        );
        // And everything is let go of a second after it was read.
        cache.purge(later + FileCache::TTL);
        assert_eq!(cache.listing_bytes, 0);
        assert!(cache.listings.is_empty());
    }

    /// A range of a file kept in memory is a slice of the one copy, never a
    /// copy of its own (finding 1 of the trust review: copies pinned 6 MiB
    /// per connection that pipelined ranges and never read).
    #[test]
    fn a_range_of_a_file_in_memory_shares_its_bytes() {
        use super::{Body, CachedFile, Part};
        use crate::producer::Piece;
        let path = std::env::temp_dir().join(format!("asynchat-cache-part-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; 1000]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let stat = rustix::fs::fstat(&file).unwrap();
        let f = CachedFile::new(&path, file, &stat, std::time::Instant::now()).unwrap();
        let _ = std::fs::remove_file(&path);
        let Body::InMemory(contents) = &f.body else {
            panic!("a small file is kept in memory");
        };
        let Part::Bytes(Piece::Slice(bytes, range)) = f.part(1..1000) else {
            panic!("not a shared slice");
        };
        assert!(std::rc::Rc::ptr_eq(&bytes, contents));
        assert_eq!(range, 1..1000u32);
    }
}
