//! A TCP proxy of the test's, standing for a load balancer whose pool
//! changes: every new connection goes to the backend it points at now
//! ([`Proxy::point_at`]), and a connection already made stays where it
//! went. Bytes are copied both ways on threads; a side that ends its
//! writes (FIN) is passed on as a FIN, a reset as a close.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The proxy; dropping it stops accepting (connections made go on).
pub struct Proxy {
    pub address: SocketAddr,
    backend: Arc<Mutex<SocketAddr>>,
    /// Connections made to each backend, in the order they were made.
    made: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free loopback port; forwards to `backend`.
    pub fn start(backend: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the proxy cannot bind");
        let address = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let proxy = Proxy {
            address,
            backend: Arc::new(Mutex::new(backend)),
            made: Arc::default(),
            stop: Arc::default(),
        };
        let (backend, made, stop) = (
            Arc::clone(&proxy.backend),
            Arc::clone(&proxy.made),
            Arc::clone(&proxy.stop),
        );
        thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let target = *backend.lock().unwrap();
                        made.lock().unwrap().push(target);
                        thread::spawn(move || forward(client, target));
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(1));
                    }
                    Err(_) => return,
                }
            }
        });
        proxy
    }

    /// New connections go to `backend` from now on.
    pub fn point_at(&self, backend: SocketAddr) {
        *self.backend.lock().unwrap() = backend;
    }

    /// The backend of every connection made so far, in order.
    pub fn made(&self) -> Vec<SocketAddr> {
        self.made.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Connects `client` to `target` and copies both ways until both ends are
/// done.
fn forward(client: TcpStream, target: SocketAddr) {
    let Ok(server) = TcpStream::connect(target) else {
        return; // Dropping `client` closes it: as a refused connect would.
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, server_read) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = thread::spawn(move || copy(client_read, server));
    copy(server_read, client);
    let _ = up.join();
}

/// Copies `from` to `to` until `from` ends, then ends `to`'s writes.
fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => {
                if to.write_all(&buffer[..read]).is_err() {
                    break;
                }
            }
            Err(_) => {
                // A reset: close the other side entirely.
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
