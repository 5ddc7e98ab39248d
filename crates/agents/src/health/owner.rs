//! Whose socket answered on an app's port. An answer counts as the app's only when the
//! listening socket that serves the probed address is held by a process of the app's own
//! process group: another program (or another repo-run's app) on the same port must never
//! make the app look healthy.
//!
//! Linux's `/proc` tells: `/proc/net/tcp` and `/proc/net/tcp6` list sockets with their local
//! address, state (`0A` is LISTEN) and inode, and `/proc/<pid>/fd/*` links name the sockets a
//! process holds as `socket:[<inode>]`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use crate::runner::proc_stat;

/// The kernel's socket tables for this network namespace.
const TABLES: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];

/// The state column's value for a listening socket.
const LISTEN: &str = "0A";

/// A listening TCP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listener {
    pub ip: IpAddr,
    pub port: u16,
    pub inode: u64,
}

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    pub pid: u32,
    pub pgrp: u32,
    /// Its command name (`/proc/<pid>/comm`).
    pub comm: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({})", self.pid, self.comm)
    }
}

/// Who holds the socket that serves one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A process of the group asked about.
    Group,
    /// Something else, described for the user ("pid 1234 (node)").
    Other(String),
    /// `/proc` cannot tell (not Linux, or not mounted); why, for the report.
    Unknown(String),
}

/// Who holds the listening socket that a connection to `addr` reaches, seen from process
/// group `pgid`.
pub(crate) fn owner_of(addr: SocketAddr, pgid: u32) -> Owner {
    let Some(listeners) = listeners(addr.port()) else {
        return Owner::Unknown(format!("{} is unreadable", TABLES[0]));
    };
    let serving: Vec<u64> = listeners.iter().filter(|l| serves(l.ip, addr.ip())).map(|l| l.inode).collect();
    if serving.is_empty() {
        // The connection was accepted, yet no socket of this network namespace listens there:
        // a forwarded port (Docker, another namespace), never a host process repo-run started.
        return Owner::Other(format!("no listening socket on this host ({addr} is forwarded elsewhere)"));
    }
    if group_holds_any(pgid, &serving) {
        return Owner::Group;
    }
    match socket_holders(&serving).first() {
        Some(holder) => Owner::Other(holder.to_string()),
        None => Owner::Other("a process repo-run cannot inspect (another user's)".into()),
    }
}

/// The sockets listening on `port`, IPv4 and IPv6; `None` when `/proc/net/tcp` cannot be read.
pub(crate) fn listeners(port: u16) -> Option<Vec<Listener>> {
    let v4 = std::fs::read_to_string(TABLES[0]).ok()?;
    // A kernel without IPv6 has no tcp6 table.
    let v6 = std::fs::read_to_string(TABLES[1]).unwrap_or_default();
    Some(parse_table(&v4).into_iter().chain(parse_table(&v6)).filter(|l| l.port == port).collect())
}

/// Listening sockets of one `/proc/net/tcp*` table. Lines that do not parse are skipped.
fn parse_table(table: &str) -> Vec<Listener> {
    let mut out = Vec::new();
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9)) else {
            continue;
        };
        if *state != LISTEN {
            continue;
        }
        let Some((ip, port)) = local.split_once(':') else { continue };
        let (Some(ip), Ok(port), Ok(inode)) = (parse_ip(ip), u16::from_str_radix(port, 16), inode.parse()) else {
            continue;
        };
        out.push(Listener { ip, port, inode });
    }
    out
}

/// The kernel prints an address as 32-bit words in hex, each in host byte order: `0100007F` is
/// 127.0.0.1 on a little-endian machine; IPv6 addresses are four such words.
fn parse_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let text = hex.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(text, 16).ok()?.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// Whether a socket listening on `listener` accepts connections made to `target`: the same
/// address, the wildcard of its family, or `::` for IPv4 too (dual-stack, Linux's default;
/// `/proc` does not show `IPV6_V6ONLY`).
fn serves(listener: IpAddr, target: IpAddr) -> bool {
    if listener == target || (listener.is_unspecified() && listener.is_ipv4() == target.is_ipv4()) {
        return true;
    }
    match (listener, target) {
        (IpAddr::V6(l), IpAddr::V4(t)) => l.is_unspecified() || l.to_ipv4_mapped() == Some(t),
        _ => false,
    }
}

/// Whether a live process of group `pgid` holds one of the `inodes`. Only the group's members
/// are read, so the check costs one `stat` per process plus the members' descriptors.
fn group_holds_any(pgid: u32, inodes: &[u64]) -> bool {
    pids().filter(|&pid| proc_stat(pid).is_some_and(|s| s.pgrp == pgid && !s.is_dead())).any(|pid| {
        let path = format!("/proc/{pid}/fd");
        holds_any(Path::new(&path), inodes)
    })
}

/// Every process holding one of the `inodes` that this user may inspect, lowest pid first (usually a
/// parent before the children that inherited its descriptors).
pub(crate) fn socket_holders(inodes: &[u64]) -> Vec<Holder> {
    pids()
        .filter(|pid| holds_any(Path::new(&format!("/proc/{pid}/fd")), inodes))
        .filter_map(|pid| {
            let stat = proc_stat(pid)?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            Some(Holder { pid, pgrp: stat.pgrp, comm: comm.trim().to_string() })
        })
        .collect()
}

/// Whether a descriptor in `fd_dir` is one of the sockets `inodes`.
fn holds_any(fd_dir: &Path, inodes: &[u64]) -> bool {
    let Ok(fds) = std::fs::read_dir(fd_dir) else { return false };
    fds.flatten().filter_map(|fd| std::fs::read_link(fd.path()).ok()).any(|link| {
        let inode = link.to_str().and_then(|l| l.strip_prefix("socket:[")?.strip_suffix(']')?.parse::<u64>().ok());
        inode.is_some_and(|i| inodes.contains(&i))
    })
}

/// The pids in `/proc`, in directory order (ascending: the kernel lists them so).
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    fn own_pgid() -> u32 {
        // SAFETY: getpgrp has no preconditions and cannot fail.
        unsafe { libc::getpgrp() as u32 }
    }

    #[test]
    fn table_lines_are_parsed() {
        let header =
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        let v4 = format!(
            "{header}   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 55555 1 0\n   \
             1: 0100007F:1F90 0100007F:D000 01 00000000:00000000 00:00000000 00000000  1000        0 66666 1 0\n   \
             2: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 77777 1 0\n   \
             3: garbage\n"
        );
        let loopback = IpAddr::V4(Ipv4Addr::from(u32::from_str_radix("0100007F", 16).unwrap().to_ne_bytes()));
        assert_eq!(
            parse_table(&v4),
            vec![
                Listener { ip: loopback, port: 8080, inode: 55555 },
                Listener { ip: Ipv4Addr::UNSPECIFIED.into(), port: 3000, inode: 77777 },
            ]
        );
        let v6 = format!(
            "{header}   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 \
             00:00000000 00000000  1000        0 88888 1 0\n"
        );
        assert_eq!(parse_table(&v6), vec![Listener { ip: Ipv6Addr::UNSPECIFIED.into(), port: 3000, inode: 88888 }]);
    }

    #[test]
    fn which_listener_serves_which_address() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert!(serves(v4, v4));
        assert!(serves(Ipv4Addr::UNSPECIFIED.into(), v4));
        assert!(serves(Ipv6Addr::UNSPECIFIED.into(), v4), "dual-stack ::");
        assert!(serves(Ipv6Addr::UNSPECIFIED.into(), v6));
        assert!(serves(Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(), v4));
        assert!(!serves(v4, v6));
        assert!(!serves(v6, v4));
        assert!(!serves(Ipv4Addr::UNSPECIFIED.into(), v6));
        assert!(!serves(Ipv4Addr::new(127, 0, 0, 2).into(), v4));
    }

    #[test]
    fn a_listener_of_this_process_is_found_and_is_ours() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let found = listeners(addr.port()).expect("/proc/net/tcp is readable on Linux");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].ip, addr.ip());

        // A child another test thread is spawning holds a copy of every descriptor until its
        // exec closes them: this process is the first holder (pids are listed in order), maybe
        // not the only one.
        let holders = socket_holders(&[found[0].inode]);
        assert_eq!(holders.first().map(|h| h.pid), Some(std::process::id()), "{holders:?}");
        assert_eq!(owner_of(addr, own_pgid()), Owner::Group);
        // Another group (here: pid 1's) does not hold it.
        assert!(
            matches!(owner_of(addr, 1), Owner::Other(holder) if holder.contains(&format!("pid {}", std::process::id())))
        );
        // ::1 is not served by a 127.0.0.1 listener.
        let v6: SocketAddr = (Ipv6Addr::LOCALHOST, addr.port()).into();
        assert!(matches!(owner_of(v6, own_pgid()), Owner::Other(_)));
        drop(listener);
        assert_eq!(listeners(addr.port()), Some(Vec::new()));
    }

    /// A child in a process group of its own that listens on a port it prints.
    struct ForeignListener(Child);

    impl ForeignListener {
        fn start(bind: &str) -> (ForeignListener, u16) {
            let script = format!(
                "import socket, sys, time\ns = socket.socket(socket.{})\ns.bind(('{bind}', 0))\ns.listen()\n\
                 print(s.getsockname()[1], flush=True)\ntime.sleep(60)\n",
                if bind.contains(':') { "AF_INET6" } else { "AF_INET" }
            );
            let mut child = Command::new("python3")
                .args(["-c", &script])
                .stdout(Stdio::piped())
                .process_group(0)
                .spawn()
                .expect("these tests need python3 on PATH");
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
            let port = line.trim().parse().unwrap_or_else(|_| panic!("the listener printed {line:?}"));
            (ForeignListener(child), port)
        }

        fn pid(&self) -> u32 {
            self.0.id()
        }
    }

    impl Drop for ForeignListener {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_listener_in_another_process_group_is_not_ours() {
        let (child, port) = ForeignListener::start("127.0.0.1");
        let addr: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
        let Owner::Other(holder) = owner_of(addr, own_pgid()) else { panic!("the child's socket counted as ours") };
        // python3 may be pyenv's shim, which execs the interpreter: the pid stays the same.
        assert!(holder.starts_with(&format!("pid {} (", child.pid())), "{holder}");
        assert_eq!(owner_of(addr, child.pid()), Owner::Group, "the child leads its own group");
    }

    #[test]
    fn an_ipv6_wildcard_listener_serves_the_ipv4_loopback() {
        let (child, port) = ForeignListener::start("::");
        let v4: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
        let v6: SocketAddr = (Ipv6Addr::LOCALHOST, port).into();
        assert_eq!(owner_of(v4, child.pid()), Owner::Group);
        assert_eq!(owner_of(v6, child.pid()), Owner::Group);
        assert!(matches!(owner_of(v4, own_pgid()), Owner::Other(_)));
    }

    #[test]
    fn a_group_member_other_than_the_leader_counts() {
        // The leader (sh) starts python, which holds the socket: `npm start` → node.
        let leader = Command::new("sh")
            .args(["-c", "python3 -c 'import socket, time\ns = socket.socket()\ns.bind((\"127.0.0.1\", 0))\ns.listen()\nprint(s.getsockname()[1], flush=True)\ntime.sleep(60)'; :"])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut leader = ForeignListener(leader);
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(leader.0.stdout.take().unwrap()), &mut line).unwrap();
        let port: u16 = line.trim().parse().unwrap();
        let addr: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
        assert_eq!(owner_of(addr, leader.pid()), Owner::Group);
        let holders = socket_holders(&listeners(port).unwrap().iter().map(|l| l.inode).collect::<Vec<_>>());
        assert!(holders.iter().all(|h| h.pid != leader.pid() && h.pgrp == leader.pid()), "{holders:?}");
        // SAFETY: the group is the test's own child group (pid > 1).
        unsafe { libc::kill(-(leader.pid() as i32), libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while listeners(port).is_some_and(|l| !l.is_empty()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(listeners(port), Some(Vec::new()), "the group's socket closed with it");
    }
}
