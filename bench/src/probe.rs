//! What the machine and the server under test are using: CPU time, memory, threads and open
//! files of a process read from `/proc`, and the limits that cap how many connections a run can
//! hold.

use std::fs;
use std::time::Duration;

/// Clock ticks per second of `/proc/PID/stat` times (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: u64 = 100;

/// CPU time, resident memory, threads and open files of a process at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessSample {
    /// User plus system CPU time since the process started.
    pub cpu: Duration,
    /// Resident set size in bytes.
    pub rss: u64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors (sockets included), if `/proc/PID/fd` may be read: only the
    /// process's own user (or root) may.
    pub fds: Option<u64>,
}

/// Reads CPU time, RSS, thread count and open files of `pid`.
pub fn sample(pid: u32) -> Result<ProcessSample, String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or("malformed /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3 of stat(5), so utime (14) and stime (15) are at 11, 12.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or("malformed /proc stat");
    let cpu_ticks = ticks(11)? + ticks(12)?;
    let threads = ticks(17)?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or("no VmRSS in /proc status")?;
    Ok(ProcessSample {
        cpu: Duration::from_millis(cpu_ticks * 1000 / USER_HZ),
        rss: rss_kib * 1024,
        threads,
        fds: open_files(pid).ok(),
    })
}

/// Counts the entries of `/proc/PID/fd`: one per open file descriptor.
pub fn open_files(pid: u32) -> Result<u64, String> {
    let dir =
        fs::read_dir(format!("/proc/{pid}/fd")).map_err(|e| format!("cannot read /proc/{pid}/fd: {e}"))?;
    Ok(dir.count() as u64)
}

fn read_number(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.split_whitespace().next()?.parse().ok()
}

/// Raises this process's open-file limit as far as allowed; returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    let (_, hard) = rlimit::Resource::NOFILE.get().unwrap_or((1024, 1024));
    rlimit::increase_nofile_limit(hard).unwrap_or(1024)
}

/// The machine limits that `listeners` simultaneous connections would exceed, each with how to
/// raise it. `server_threads_per_listener` is 2 for jukebox-server, 0 for a server whose thread
/// count does not grow with its listeners.
pub fn limit_problems(listeners: u64, fd_limit: u64, server_threads_per_listener: u64) -> Vec<String> {
    let mut problems = Vec::new();
    if fd_limit < listeners + 64 {
        problems.push(format!(
            "this process may open {fd_limit} files but needs about {}: raise the hard limit (ulimit -Hn, /etc/security/limits.conf) and run again",
            listeners + 64
        ));
    }
    let threads = listeners * server_threads_per_listener + 1000;
    if let Some(pid_max) = read_number("/proc/sys/kernel/pid_max")
        && threads > pid_max
    {
        problems.push(format!(
            "the server needs about {threads} threads but kernel.pid_max is {pid_max}: sysctl -w kernel.pid_max={}",
            threads.next_power_of_two()
        ));
    }
    // Four maps per thread: stack, guard page, alternate signal stack and its guard.
    let maps = listeners * server_threads_per_listener * 4 + 10_000;
    if let Some(max_map_count) = read_number("/proc/sys/vm/max_map_count")
        && maps > max_map_count
    {
        problems.push(format!(
            "the server needs about {maps} memory maps (four per thread) but vm.max_map_count is {max_map_count}: sysctl -w vm.max_map_count={}",
            maps.next_power_of_two()
        ));
    }
    if let Ok(range) = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") {
        let ports: Vec<u64> = range.split_whitespace().filter_map(|p| p.parse().ok()).collect();
        if let [low, high] = ports[..]
            && high - low < listeners
        {
            problems.push(format!(
                "only {} local ports for {listeners} connections: sysctl -w net.ipv4.ip_local_port_range=\"1024 65000\"",
                high - low
            ));
        }
    }
    problems
}

/// The open-file limit of another process, from `/proc/PID/limits`.
pub fn fd_limit_of(pid: u32) -> Option<u64> {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss > 0 && s.threads >= 1);
        // At least the directory being listed.
        assert!(s.fds.is_some_and(|fds| fds >= 1), "{s:?}");
        assert!(fd_limit_of(std::process::id()).is_some());
    }

    #[test]
    fn a_low_fd_limit_is_reported_with_the_fix() {
        let problems = limit_problems(10_000, 1024, 0);
        assert!(problems.iter().any(|p| p.contains("ulimit -Hn")), "{problems:?}");
    }
}
