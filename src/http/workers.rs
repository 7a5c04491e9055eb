//! Several workers on one port (`--workers N`): N [`Server`]s, each on a
//! thread of its own with a listening socket of its own, all bound to the
//! same address with `SO_REUSEPORT`, so that the kernel spreads
//! connections over them (by a hash of each connection's addresses and
//! ports).
//!
//! Each worker has its own reactor, file cache, clock and root descriptor,
//! built on its own thread from its own copy of the [`Config`]; a
//! connection lives and dies on the worker that accepted it. The only
//! thing the workers see of each other is their counters and boards, for
//! the status page ([`Monitors`]), each written by its own worker alone:
//! the hot path takes no lock and shares no cache line it writes.
//!
//! `--max-connections` is the total: each worker gets its share
//! ([`shares`]). A worker at its share stops accepting, and the
//! connections the kernel gives it wait in its backlog even while another
//! worker has room: the kernel picks a worker when a connection arrives,
//! not when one is free.
//!
//! With one worker, the socket is bound as [`Server::bind`] binds it
//! (without `SO_REUSEPORT`), and the worker's trace and status page are
//! those of a server without workers.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use super::monitor::Monitors;
use super::{Bound, Config, Server, listen, listen_with, socket_for};
use crate::reactor::Stopper;

/// The stack of a worker's thread: what the main thread gets by default,
/// as a single-threaded server ran on it.
const STACK: usize = 8 << 20;

/// How `total` connections are shared among `workers`: worker `i` gets
/// `total / workers`, and one more for `i < total % workers`, so that the
/// shares add up to `total` exactly.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] for no workers, or more workers than
/// connections (a worker that may hold no connection would never accept).
///
/// # Examples
///
/// ```
/// use asynchat::http::workers::shares;
///
/// assert_eq!(shares(10, 3).unwrap(), [4, 3, 3]);
/// assert!(shares(2, 3).is_err());
/// ```
pub fn shares(total: usize, workers: usize) -> io::Result<Vec<usize>> {
    if workers == 0 || workers > total {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{workers} workers for {total} connections: every worker needs a share of \
                 at least one connection"
            ),
        ));
    }
    Ok((0..workers)
        .map(|i| total / workers + usize::from(i < total % workers))
        .collect())
}

/// Sockets listening on `addr` for `n` workers, and whether they serve
/// IPv4 and IPv6 clients alike (`::`). One worker's is bound as
/// [`Server::bind`] binds it; several get `SO_REUSEPORT`, the first on
/// `addr` (port 0 picks a free port) and the others on the port it got.
///
/// A port that another socket listens on is refused with several workers
/// as with one, even when that socket has `SO_REUSEPORT` too: another
/// server of this user started on the port by mistake would otherwise
/// share its connections without a word.
fn bind_all(addr: SocketAddr, n: usize) -> io::Result<Vec<TcpListener>> {
    if n == 1 {
        return Ok(vec![listen(addr)?]);
    }
    if addr.port() != 0 {
        probe(addr)?;
    }
    let first = listen_with(addr, true)?;
    let addr = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..n {
        all.push(listen_with(addr, true)?);
    }
    Ok(all)
}

/// Binds (and closes) a socket on `addr` without `SO_REUSEPORT`: fails,
/// `EADDRINUSE`, when any socket listens there.
fn probe(addr: SocketAddr) -> io::Result<()> {
    rustix::net::bind(&socket_for(addr)?, &addr)?;
    Ok(())
}

/// Stops every worker of a [`Workers`] from any thread: each finishes what
/// it has in flight, as [`Stopper::stop`] says. Cloneable and `Send`.
#[derive(Clone)]
pub struct StopAll(Arc<[Stopper]>);

impl StopAll {
    /// Starts a graceful shutdown of every worker.
    pub fn stop(&self) {
        for stopper in self.0.iter() {
            stopper.stop();
        }
    }
}

/// Tells [`Workers::join`] how a worker's thread ended, whatever the
/// reason: once, by [`Ended::send`], or, for a thread that ends without
/// (a panic, which unwinds only in tests: the release build aborts), when
/// it is dropped.
struct Ended {
    worker: usize,
    to: Option<mpsc::Sender<(usize, io::Result<()>)>>,
}

impl Ended {
    fn send(mut self, result: io::Result<()>) {
        if let Some(to) = self.to.take() {
            let _ = to.send((self.worker, result));
        }
    }
}

impl Drop for Ended {
    fn drop(&mut self) {
        if let Some(to) = self.to.take() {
            let panicked = io::Error::other("the worker's thread panicked");
            let _ = to.send((self.worker, Err(panicked)));
        }
    }
}

/// Workers serving one address, each on its own thread; see the module
/// documentation.
pub struct Workers {
    bound: Bound,
    stop: StopAll,
    threads: Vec<JoinHandle<()>>,
    ended: mpsc::Receiver<(usize, io::Result<()>)>,
    monitors: Monitors,
}

impl Workers {
    /// Binds `n` sockets on `addr` and starts a worker on each, serving
    /// `config` (its `max_connections` is the total, shared by
    /// [`shares`]); each runs `before_wait` whenever its loop is about to
    /// wait (see [`Server::before_wait`]). Returns once every worker is
    /// serving. With more than one worker, each names itself in the trace
    /// (`#12 w1 127.0.0.1:50312 ...`, see [`crate::trace::set_worker`]).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for no workers or more workers than
    /// `config.max_connections`; the error from binding (address in use,
    /// not available, ...); or the first error of a worker that could not
    /// start (then the others are stopped before this returns).
    ///
    /// # Examples
    ///
    /// ```
    /// use asynchat::http::Config;
    /// use asynchat::http::workers::Workers;
    ///
    /// let config = Config::new(".")?;
    /// let workers = Workers::start(config, "127.0.0.1:0".parse().unwrap(), 2, || {})?;
    /// assert_eq!(workers.len(), 2);
    /// workers.stopper().stop();
    /// workers.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(
        config: Config,
        addr: SocketAddr,
        n: usize,
        before_wait: impl Fn() + Send + Sync + 'static,
    ) -> io::Result<Workers> {
        let shares = shares(config.max_connections, n)?;
        let listeners = bind_all(addr, n)?;
        let bound = Bound(listeners[0].local_addr()?);
        let monitors = Monitors::new(n, config.status_path.is_some());
        let before_wait = Arc::new(before_wait);
        let (ready_tx, ready) = mpsc::channel();
        let (ended_tx, ended) = mpsc::channel();
        let mut threads = Vec::with_capacity(n);
        let mut failed = None;
        for (worker, (listener, share)) in listeners.into_iter().zip(shares).enumerate() {
            let mut config = config.clone();
            config.max_connections = share;
            let monitors = monitors.clone();
            let before_wait = Arc::clone(&before_wait);
            let ready = ready_tx.clone();
            let ended = Ended {
                worker,
                to: Some(ended_tx.clone()),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("worker {worker}"))
                .stack_size(STACK)
                .spawn(move || {
                    if n > 1 {
                        crate::trace::set_worker(Some(worker));
                    }
                    let mut server = match Server::on(config, listener, monitors, worker) {
                        Ok(server) => server,
                        Err(e) => {
                            let e = if n > 1 {
                                io::Error::new(e.kind(), format!("worker {worker}: {e}"))
                            } else {
                                e
                            };
                            let _ = ready.send(Err(e));
                            return ended.send(Ok(()));
                        }
                    };
                    server.before_wait(move || before_wait());
                    let _ = ready.send(Ok(server.stopper()));
                    drop(ready);
                    ended.send(server.run());
                });
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop((ready_tx, ended_tx));
        let mut stoppers = Vec::with_capacity(threads.len());
        for _ in 0..threads.len() {
            match ready.recv() {
                Ok(Ok(stopper)) => stoppers.push(stopper),
                Ok(Err(e)) => {
                    failed.get_or_insert(e);
                }
                Err(mpsc::RecvError) => {
                    failed.get_or_insert(io::Error::other("a worker ended as it started"));
                    break;
                }
            }
        }
        let workers = Workers {
            bound,
            stop: StopAll(stoppers.into()),
            threads,
            ended,
            monitors,
        };
        match failed {
            None => Ok(workers),
            Some(e) => {
                workers.stop.stop();
                for thread in workers.threads {
                    let _ = thread.join();
                }
                Err(e)
            }
        }
    }

    /// How many workers there are.
    pub fn len(&self) -> usize {
        self.monitors.len()
    }

    /// True when there are none (never, once started).
    pub fn is_empty(&self) -> bool {
        self.monitors.is_empty()
    }

    /// Where every worker listens.
    pub fn bound(&self) -> Bound {
        self.bound
    }

    /// Every worker's counters and board, as the status page shows them.
    pub fn monitors(&self) -> &Monitors {
        &self.monitors
    }

    /// A handle that starts a graceful shutdown of every worker from any
    /// thread.
    pub fn stopper(&self) -> StopAll {
        self.stop.clone()
    }

    /// Waits until every worker has stopped and finished its shutdown. A
    /// worker whose loop fails (only the poller itself can) is logged and
    /// stops the others.
    ///
    /// # Errors
    ///
    /// The first worker's failure, if any.
    pub fn join(self) -> io::Result<()> {
        let several = self.len() > 1;
        let mut first = None;
        // Every thread sends once as it ends (see `Ended`), so this ends
        // when the last one has.
        for (worker, result) in self.ended.iter() {
            if let Err(e) = result {
                self.stop.stop();
                if several {
                    log::error!("worker {worker}: event loop failed: {e}; stopping every worker");
                    first.get_or_insert(io::Error::new(e.kind(), format!("worker {worker}: {e}")));
                } else {
                    first.get_or_insert(e);
                }
            }
        }
        for thread in self.threads {
            let _ = thread.join();
        }
        first.map_or(Ok(()), Err)
    }
}
