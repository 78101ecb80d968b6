//! A loopback TCP proxy in front of a database, to test an outage for real:
//! [`TcpProxy::cut`] resets every open connection and refuses new ones, as
//! a database that went away does; [`TcpProxy::restore`] lets them through
//! again. No driver is mocked: the adapter under test talks to the real
//! server through a real socket that is cut and restored. Started with
//! [`TcpProxy::start_with_latency`], it also delays every byte by a fixed
//! time each way, as a network between an application and its database
//! does (benchmarks use it to measure round trips, not only CPU).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let proxy = conformance_tests::proxy::TcpProxy::start("127.0.0.1:5432").await?;
//! let url = proxy.rewrite("postgres://postgres@127.0.0.1:5432/app");
//! // … connect an adapter to `url`, then:
//! proxy.cut();
//! proxy.restore();
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, copy_bidirectional};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// A running proxy; dropping it stops it (and cuts every connection).
pub struct TcpProxy {
    port: u16,
    upstream: String,
    cut: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TcpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpProxy")
            .field("port", &self.port)
            .field("upstream", &self.upstream)
            .field("cut", &self.is_cut())
            .finish()
    }
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        Self::start_with_latency(upstream, Duration::ZERO).await
    }

    /// As [`TcpProxy::start`], delaying what it forwards by `one_way` in
    /// each direction (a round trip costs twice that). Bytes keep their
    /// order and pipelining: each chunk is held until `one_way` after it
    /// was read, not after the chunk before it was written.
    pub async fn start_with_latency(upstream: &str, one_way: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let accepted = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(
            listener,
            upstream.to_owned(),
            cut.clone(),
            generation.clone(),
            accepted.clone(),
            one_way,
        ));
        Ok(Self {
            port,
            upstream: upstream.to_owned(),
            cut,
            generation,
            accepted,
            task,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `url` with its `host:port` replaced by the proxy's (the first
    /// `@host:port` or `//host:port` of the URL).
    pub fn rewrite(&self, url: &str) -> String {
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let host_start = authority.rfind('@').map_or(0, |i| i + 1);
        format!(
            "{scheme}://{}127.0.0.1:{}{tail}",
            &authority[..host_start],
            self.port
        )
    }

    /// Resets every open connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// Whether it is cut.
    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    /// Connections it has let through so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    cut: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    accepted: Arc<AtomicU64>,
    one_way: Duration,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if cut.load(Ordering::SeqCst) {
            // Refused: closed at once, before the server's greeting.
            drop(client);
            continue;
        }
        accepted.fetch_add(1, Ordering::SeqCst);
        let upstream = upstream.clone();
        let mut cuts = generation.subscribe();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(&upstream).await else {
                return;
            };
            let mut client = client;
            if one_way.is_zero() {
                tokio::select! {
                    _ = copy_bidirectional(&mut client, &mut server) => {}
                    // Both sockets close when this task ends.
                    _ = cuts.changed() => {}
                }
                return;
            }
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::select! {
                _ = delayed(client_read, server_write, one_way) => {}
                _ = delayed(server_read, client_write, one_way) => {}
                _ = cuts.changed() => {}
            }
        });
    }
}

/// Forwards `from` to `to`, each chunk `one_way` after it was read.
async fn delayed(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    one_way: Duration,
) {
    let (chunks, mut due) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let reader = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let at = tokio::time::Instant::now() + one_way;
                    if chunks.send((at, buffer[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    // The writer drains what was read before the reader saw the end.
    tokio::join!(reader, writer);
}
