//! A hostile upstream for the adversarial suite: an API bound to a secret
//! that tries to hand the credential back to the agent. It speaks raw
//! HTTP/1.1 over TCP (one request per connection) so it can send what a
//! well-behaved server library would not: stacked or unknown encodings,
//! unsolicited `206`s, trailers, odd reason phrases, header names built
//! from the request.
//!
//! Every route is one [`Attack`]: it reads the credential from the request
//! (`Authorization: Bearer <secret>`, or `Basic` for the pair routes) and
//! reflects it in that attack's way. It counts accepted connections, so a
//! test can prove the broker never connected at all.
//!
//! The files: [`Attack`] (attack.rs: the routes), the raw HTTP/1.1 wire
//! and each attack's response (wire.rs), and real compression for the
//! encoded attacks (compress.rs).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;

mod attack;
mod compress;
mod wire;

pub use attack::Attack;
pub use compress::{gzip, zlib};
use wire::{read_head, respond, Request};

/// The hostile server.
pub struct Hostile {
    /// Where it listens (127.0.0.1, ephemeral port).
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hostile {
    /// Start listening.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (conns, reqs) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                conns.fetch_add(1, Ordering::SeqCst);
                let reqs = reqs.clone();
                tokio::spawn(async move {
                    let Some(mut stream) = crate::tls::accept(stream).await else {
                        return;
                    };
                    let Some(head) = read_head(&mut stream).await else {
                        return;
                    };
                    let request = Request::parse(&head);
                    reqs.lock().unwrap().push(request.target.clone());
                    let _ = stream.write_all(&respond(&request)).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            addr,
            connections,
            requests,
            task,
        }
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Request targets (path and query) received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// `https://127.0.0.1:<port><attack path>` (`http://` when the stack
    /// runs plain HTTP, see [`crate::tls`]).
    pub fn url(&self, attack: Attack) -> String {
        format!("{}://{}{}", crate::tls::scheme(), self.addr, attack.path())
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}
