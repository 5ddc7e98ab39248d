//! Choosing an app's port: the one the code asks for when it is free, else a free one the
//! app is told through its port variable. A port is claimed under its machine-wide lock
//! ([`super::port_lock`]), so another repo-run choosing at the same moment never gets it too.

use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use super::port_lock::{self, Attempt, PortLock};

/// Whether something already listens on `port`, on the loopback or the wildcard address (an
/// app binds one or the other; a listener on either makes the other fail or shadows it).
pub(crate) fn port_busy(port: u16) -> bool {
    let addrs: [SocketAddr; 4] = [
        (Ipv4Addr::LOCALHOST, port).into(),
        (Ipv4Addr::UNSPECIFIED, port).into(),
        (Ipv6Addr::LOCALHOST, port).into(),
        (Ipv6Addr::UNSPECIFIED, port).into(),
    ];
    let bind_fails = addrs.iter().any(|addr| match TcpListener::bind(addr) {
        Ok(_) => false,
        // No IPv6 on this host: says nothing about the port.
        Err(e) => e.kind() == ErrorKind::AddrInUse,
    });
    // A listener of another user on an address of its own is seen only by connecting.
    bind_fails || TcpStream::connect_timeout(&addrs[0], Duration::from_millis(200)).is_ok()
}

/// What [`claim`] found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// Nothing listens on the port and no other repo-run is starting an app on it. The lock keeps
    /// it so until the app listens; `Err` says why it could not be taken (the port is still
    /// free, but unguarded).
    Claimed(io::Result<PortLock>),
    /// Another repo-run holds its lock: it is starting an app on it.
    ClaimedElsewhere,
    /// Something listens on it.
    Busy,
}

/// Takes `port`'s lock, then checks that the port is free. In that order: a repo-run that held
/// the lock before has its app listening by the time it lets go, so the check sees it.
pub(crate) fn claim(port: u16) -> Claim {
    let lock = match port_lock::try_lock(port) {
        Ok(Attempt::Locked(lock)) => Ok(lock),
        Ok(Attempt::HeldElsewhere) => return Claim::ClaimedElsewhere,
        Err(e) => Err(e),
    };
    if port_busy(port) { Claim::Busy } else { Claim::Claimed(lock) }
}

/// A free port from the kernel's ephemeral range, claimed as [`claim`] does, other than
/// `avoid`. Another program may still bind it before the app; the Health agent then reports
/// the app's failure with its log.
pub(crate) fn claim_free_port(avoid: &[u16]) -> io::Result<(u16, io::Result<PortLock>)> {
    for _ in 0..20 {
        let port = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?.local_addr()?.port();
        if avoid.contains(&port) {
            continue;
        }
        if let Claim::Claimed(lock) = claim(port) {
            return Ok((port, lock));
        }
    }
    Err(io::Error::new(ErrorKind::AddrInUse, "no free port found in 20 tries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_is_busy_and_a_free_one_is_not() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(port_busy(port));
        assert!(matches!(claim(port), Claim::Busy));
        let (free, lock) = claim_free_port(&[port]).unwrap();
        assert_ne!(free, port);
        assert!(!port_busy(free));
        assert_eq!(lock.unwrap().port(), free);
        drop(held);
    }

    #[test]
    fn a_port_whose_lock_is_held_is_claimed_elsewhere_even_when_free() {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
        let Claim::Claimed(Ok(lock)) = claim(port) else { panic!("a free port with a free lock is claimed") };
        assert!(!port_busy(port), "nothing listens on it yet");
        assert!(matches!(claim(port), Claim::ClaimedElsewhere));
        let (other, _other_lock) = claim_free_port(&[]).unwrap();
        assert_ne!(other, port);
        drop(lock);
        assert!(matches!(claim(port), Claim::Claimed(Ok(_))));
    }
}
