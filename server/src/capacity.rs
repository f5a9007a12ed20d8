//! How many connections the machine lets this process hold.
//!
//! Each connection takes two threads, and each thread four memory maps (its stack, the stack's
//! guard page, and the alternate signal stack with its guard that Rust sets up for stack
//! overflow reports). Past `kernel.pid_max` a thread cannot start, which the server survives;
//! past `vm.max_map_count` even the alternate stack cannot be mapped and the process aborts.
//! Each connection also holds one file descriptor, and so does each connection whose handshake
//! is not complete yet. So the server raises its open-file limit as far as it may and never
//! accepts more connections than all three limits allow.

use std::fs;

/// Threads per connection: a reader and a writer.
pub const THREADS_PER_CONNECTION: u64 = 2;

/// Memory maps per connection (four per thread, measured with `/proc/PID/maps`).
pub const MAPS_PER_CONNECTION: u64 = 8;

/// Raises this process's open-file limit to its hard limit (many systems start programs at
/// 1024 although they allow far more); returns the new limit.
pub fn raise_open_file_limit() -> Option<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get().ok()?;
    rlimit::increase_nofile_limit(hard).ok()
}

/// Threads and maps left for everything else: other processes, the server's own threads,
/// its libraries and heap.
const MARGIN: u64 = 2048;

fn read_number(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.split_whitespace().next()?.parse().ok()
}

/// Threads of every process on the machine right now (the fourth field of `/proc/loadavg`
/// is "running/total").
fn threads_in_use() -> Option<u64> {
    let loadavg = fs::read_to_string("/proc/loadavg").ok()?;
    loadavg.split_whitespace().nth(3)?.split('/').nth(1)?.parse().ok()
}

/// File descriptors kept for everything but clients: unfinished handshakes, song files being
/// read, the index, the listener, standard streams.
const FD_MARGIN: u64 =
    crate::native::handshake::MAX_PENDING as u64 + crate::library::song::MAX_SONG_FILES as u64 + 64;

/// The most connections the kernel's limits allow with `open_files` file descriptors, with
/// the limit that binds and how to raise it, or `None` where the limits cannot be read (not
/// Linux).
pub fn connections_that_fit(open_files: Option<u64>) -> Option<(usize, String)> {
    let maps_in_use = fs::read_to_string("/proc/self/maps").ok()?.lines().count() as u64;
    let by_maps = read_number("/proc/sys/vm/max_map_count").map(|max| {
        let fit = max.saturating_sub(maps_in_use + MARGIN) / MAPS_PER_CONNECTION;
        let wanted = |clients: u64| clients * MAPS_PER_CONNECTION + MARGIN;
        (fit, format!("vm.max_map_count is {max} (each client takes {MAPS_PER_CONNECTION} memory maps); raise it with: sysctl -w vm.max_map_count={}", wanted(fit * 4).next_power_of_two()))
    });
    let by_threads = read_number("/proc/sys/kernel/pid_max").zip(threads_in_use()).map(|(max, used)| {
        let fit = max.saturating_sub(used + MARGIN) / THREADS_PER_CONNECTION;
        (fit, format!("kernel.pid_max is {max} and {used} threads already run (each client takes {THREADS_PER_CONNECTION}); raise it with: sysctl -w kernel.pid_max=4194304"))
    });
    let by_files = open_files.map(|limit| {
        (limit.saturating_sub(FD_MARGIN), format!("the open-file limit is {limit} (each client takes one); raise it with: ulimit -n, or LimitNOFILE= in a systemd unit"))
    });
    let (fit, why) = [by_maps, by_threads, by_files].into_iter().flatten().min_by_key(|(fit, _)| *fit)?;
    Some((usize::try_from(fit).unwrap_or(usize::MAX), why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_fits_some_connections_and_says_which_limit_binds() {
        let (fit, why) = connections_that_fit(None).expect("Linux /proc");
        assert!(
            connections_that_fit(Some(1000)).is_some_and(|(f, why)| f < 1000 && why.contains("open-file"))
        );
        assert!(fit > 100, "{fit}: {why}");
        assert!(why.contains("raise it with"), "{why}");
    }
}
