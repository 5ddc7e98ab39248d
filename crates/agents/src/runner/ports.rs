//! Choosing an app's port: the one the code asks for when it is free, else a free one the
//! app is told through its port variable.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

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

/// A port nothing listens on now, from the kernel's ephemeral range. Another program may take
/// it before the app binds it; the Health agent then reports the app's failure with its log.
pub(crate) fn free_port(avoid: &[u16]) -> std::io::Result<u16> {
    for _ in 0..20 {
        let port = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?.local_addr()?.port();
        if !avoid.contains(&port) && !port_busy(port) {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(ErrorKind::AddrInUse, "no free port found in 20 tries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_is_busy_and_a_free_one_is_not() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(port_busy(port));
        let free = free_port(&[port]).unwrap();
        assert_ne!(free, port);
        assert!(!port_busy(free));
        drop(held);
    }
}
