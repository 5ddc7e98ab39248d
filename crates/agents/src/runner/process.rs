//! Process control for apps that may have been started by another, now dead, `repo-run`:
//! everything here works from an [`AppRecord`] (pid, process group, start time) and `/proc`,
//! never from a `Child` handle, so `down` and `status` work after a crash.
//!
//! Every app leads its own process group, so one signal to the group reaches what the app
//! started too (`npm start` → `node`). Before signalling, the record is checked against the
//! live process (its start time and group), so a pid the kernel has since given to another
//! program is never signalled.

use std::time::{Duration, Instant};

use crate::state::{AppRecord, RunState};

/// How far a recorded start time may be from the one `/proc` gives: `/proc/stat`'s boot time
/// is rounded to the second and drifts a little with clock adjustments.
const START_TOLERANCE_S: u64 = 2;

/// How often a stop checks whether the group is gone.
const STOP_POLL: Duration = Duration::from_millis(20);

/// After SIGKILL, how long to wait for the kernel to take the group down before giving up.
const KILL_WAIT: Duration = Duration::from_secs(3);

/// What `/proc/<pid>/stat` says about one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// `R`, `S`, `D`, `Z` (zombie: exited, not yet reaped), …
    pub state: char,
    pub pgrp: u32,
    /// Unix seconds.
    pub started_at: u64,
    /// The raw wait status of a zombie (Linux 3.5+), as `waitpid` would report it.
    pub exit_code: Option<i32>,
}

impl ProcStat {
    /// Exited (a zombie waiting to be reaped, or being torn down).
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Reads `/proc/<pid>/stat`; `None` when there is no such process.
pub(crate) fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text, boot_time()?, clock_ticks())
}

/// Parses a stat line. The command name (field 2) is in parentheses and may itself contain
/// spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(text: &str, boot_time: u64, ticks_per_s: u64) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 of proc(5).
    let field = |n: usize| fields.get(n - 3).copied();
    let state = field(3)?.chars().next()?;
    let pgrp = field(5)?.parse().ok()?;
    let start_ticks: u64 = field(22)?.parse().ok()?;
    let exit_code = field(52).and_then(|s| s.parse().ok());
    Some(ProcStat { state, pgrp, started_at: boot_time + start_ticks / ticks_per_s.max(1), exit_code })
}

fn boot_time() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// The start time of a live process, for the record written right after spawning it.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|s| s.started_at)
}

/// Whether `stat` is the process `record` describes (not a recycled pid).
fn matches_record(stat: &ProcStat, record: &AppRecord) -> bool {
    stat.pgrp == record.pgid && stat.started_at.abs_diff(record.started_at) <= START_TOLERANCE_S
}

/// Whether the app's own process is running (not exited, not a recycled pid).
pub fn app_alive(record: &AppRecord) -> bool {
    proc_stat(record.pid).is_some_and(|s| !s.is_dead() && matches_record(&s, record))
}

/// What runs of a recorded app, for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppStatus {
    Running,
    /// The app exited but processes it started still run in its group (pids).
    Leftovers(Vec<u32>),
    Exited,
    /// The pid now belongs to another program.
    PidReused,
}

/// What runs of the app `record` describes.
pub fn app_status(record: &AppRecord) -> AppStatus {
    match proc_stat(record.pid) {
        Some(stat) if !matches_record(&stat, record) => AppStatus::PidReused,
        Some(stat) if !stat.is_dead() => AppStatus::Running,
        _ => match live_group_members(record) {
            members if members.is_empty() => AppStatus::Exited,
            members => AppStatus::Leftovers(members),
        },
    }
}

/// Live processes of `record`'s group. Those that started before the app cannot be its
/// descendants: a reused group id is never mistaken for the app's.
fn live_group_members(record: &AppRecord) -> Vec<u32> {
    let (Some(boot), ticks) = (boot_time(), clock_ticks()) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|t| parse_stat(&t, boot, ticks))
                .is_some_and(|s| {
                    s.pgrp == record.pgid && !s.is_dead() && s.started_at + START_TOLERANCE_S >= record.started_at
                })
        })
        .collect()
}

/// What [`stop_app`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// The group ended after SIGTERM.
    Stopped { after: Duration },
    /// The group ignored SIGTERM for the whole grace period and was killed.
    Killed { after: Duration },
    /// Nothing of the app was running any more.
    AlreadyGone,
    /// The pid now belongs to another program (started at another time, or in another
    /// group): it was left alone.
    PidReused,
    /// Signalling failed (another user's process, …) or the group outlived SIGKILL.
    Failed(String),
}

impl StopOutcome {
    /// Nothing of the app is left running.
    pub fn is_stopped(&self) -> bool {
        matches!(self, StopOutcome::Stopped { .. } | StopOutcome::Killed { .. } | StopOutcome::AlreadyGone)
    }
}

impl std::fmt::Display for StopOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopOutcome::Stopped { after } => write!(f, "stopped in {} ms", after.as_millis()),
            StopOutcome::Killed { after } => {
                write!(f, "did not stop on SIGTERM; killed after {:.1} s", after.as_secs_f64())
            }
            StopOutcome::AlreadyGone => f.write_str("was not running"),
            StopOutcome::PidReused => f.write_str("its pid now belongs to another program; left alone"),
            StopOutcome::Failed(why) => write!(f, "could not be stopped: {why}"),
        }
    }
}

/// Stops the app's whole process group: SIGTERM, up to `grace` for it to exit, then SIGKILL.
/// Reaps the app's process when it is a child of this process.
pub fn stop_app(record: &AppRecord, grace: Duration) -> StopOutcome {
    let started = Instant::now();
    if let Some(stat) = proc_stat(record.pid)
        && !matches_record(&stat, record)
    {
        // Not ours any more. Our group may still have members (the leader exited and its pid
        // was reused at once): those are found by group id below only when the leader is gone.
        return StopOutcome::PidReused;
    }
    reap(record.pid);
    if live_group_members(record).is_empty() {
        return StopOutcome::AlreadyGone;
    }
    if let Err(e) = signal_group(record.pgid, libc::SIGTERM) {
        return e;
    }
    if wait_group_gone(record, grace) {
        return StopOutcome::Stopped { after: started.elapsed() };
    }
    if let Err(e) = signal_group(record.pgid, libc::SIGKILL) {
        return e;
    }
    if wait_group_gone(record, KILL_WAIT) {
        StopOutcome::Killed { after: started.elapsed() }
    } else {
        StopOutcome::Failed(format!(
            "process group {} still has live processes after SIGKILL: {:?}",
            record.pgid,
            live_group_members(record)
        ))
    }
}

/// Stops every app of `state`, the last started first (an app may depend on one started before
/// it). Apps that are stopped or gone are removed from `state.apps`; the others stay, so the
/// caller can save the state and report them. The caller saves the state.
pub fn stop_all(state: &mut RunState, grace: Duration) -> Vec<(AppRecord, StopOutcome)> {
    let mut outcomes = Vec::new();
    let mut kept = Vec::new();
    for record in state.apps.drain(..).rev() {
        let outcome = stop_app(&record, grace);
        if !outcome.is_stopped() && outcome != StopOutcome::PidReused {
            kept.push(record.clone());
        }
        outcomes.push((record, outcome));
    }
    kept.reverse();
    state.apps = kept;
    outcomes
}

fn signal_group(pgid: u32, signal: i32) -> Result<(), StopOutcome> {
    let Ok(pgid) = i32::try_from(pgid) else {
        return Err(StopOutcome::Failed(format!("process group {pgid} is out of range")));
    };
    if pgid <= 1 {
        // kill(0) or kill(-1) would signal this process's group or every process.
        return Err(StopOutcome::Failed(format!("refusing to signal process group {pgid}")));
    }
    // SAFETY: kill has no memory preconditions; a negative pid names a process group.
    if unsafe { libc::kill(-pgid, signal) } == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ESRCH) => Ok(()), // gone between the check and the signal
        _ => Err(StopOutcome::Failed(format!("signalling process group {pgid}: {err}"))),
    }
}

/// Waits until the group has no live member, reaping the leader when it is our child.
fn wait_group_gone(record: &AppRecord, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        reap(record.pid);
        if live_group_members(record).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(STOP_POLL);
    }
}

/// Collects the exit status of `pid` if it is an exited child of this process, so it does not
/// stay a zombie. Does nothing for other processes (`waitpid` answers ECHILD).
pub(crate) fn reap(pid: u32) -> Option<i32> {
    let pid = i32::try_from(pid).ok().filter(|p| *p > 0)?;
    let mut status = 0;
    // SAFETY: status is a valid out-pointer; WNOHANG never blocks.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    (r == pid).then_some(status)
}

/// "exited with status 3", "killed by signal 9" from a raw wait status.
pub(crate) fn describe_wait_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("ended (wait status {status})")
    }
}

/// The process holding a listening TCP `port`, as "pid 1234 (node)", when `/proc` tells
/// (only for processes of this user, and not for ports held by Docker's proxy of another
/// namespace).
pub(crate) fn port_holder(port: u16) -> Option<String> {
    let inodes: Vec<u64> = crate::health::listeners(port)?.iter().map(|l| l.inode).collect();
    if inodes.is_empty() {
        return None;
    }
    crate::health::socket_holders(&inodes).first().map(|h| h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_odd_command_name() {
        // Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt
        // cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime …
        let mut fields = vec!["Z", "1", "4242", "4242", "0", "-1", "0", "0", "0", "0", "0", "0", "0", "0", "0"];
        fields.extend(["20", "0", "1", "0", "12345"]);
        fields.extend(std::iter::repeat_n("0", 29));
        fields.push("768");
        let line = format!("4242 (we(ird) name) {}\n", fields.join(" "));
        let s = parse_stat(&line, 1_000_000, 100).unwrap();
        assert_eq!(s.state, 'Z');
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.started_at, 1_000_123);
        assert_eq!(s.exit_code, Some(768));
        assert_eq!(describe_wait_status(768), "exited with status 3");
        assert!(s.is_dead());
    }

    #[test]
    fn this_process_is_seen() {
        let me = proc_stat(std::process::id()).unwrap();
        assert!(!me.is_dead());
        assert!(me.started_at <= crate::state::unix_now() + START_TOLERANCE_S);
    }
}
