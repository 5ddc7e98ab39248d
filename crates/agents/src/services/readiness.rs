//! Waiting until a service answers: probes with backoff until a deadline.

use std::time::{Duration, Instant, SystemTime};

use super::catalogue::{Probe, Vars};
use super::docker::Engine;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Probes until ready (`Ok`) or until `deadline` or the container's exit (`Err` with the reason).
pub(super) async fn wait(
    engine: &Engine,
    container: &str,
    probe: &Probe,
    vars: &Vars<'_>,
    since: SystemTime,
    deadline: Instant,
) -> Result<(), String> {
    let mut delay = FIRST_DELAY;
    loop {
        match engine.running(container).await {
            Ok((true, _)) => {}
            Ok((false, code)) => {
                let code = code.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
                return Err(format!("the container exited (code {code})"));
            }
            Err(e) => return Err(e.to_string()),
        }
        let last = match check(engine, container, probe, vars, since).await {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        // The last wait ends at the deadline, for one last probe there.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("last probe: {last}"));
        }
        tokio::time::sleep(delay.min(left)).await;
        delay = next_delay(delay);
    }
}

/// One probe: `Err` says why the service is not ready yet.
async fn check(
    engine: &Engine,
    container: &str,
    probe: &Probe,
    vars: &Vars<'_>,
    since: SystemTime,
) -> Result<(), String> {
    match probe {
        Probe::Exec { command, expect } => {
            let command: Vec<String> = command.iter().map(|a| vars.expand(a)).collect();
            let (code, output) = engine.exec(container, command.clone()).await.map_err(|e| e.to_string())?;
            let output = output.trim();
            let expected = expect.as_deref().is_none_or(|e| output.contains(e));
            if code == Some(0) && expected {
                Ok(())
            } else {
                let code = code.map_or_else(|| "none".to_owned(), |c| c.to_string());
                Err(format!("`{}` exited {code}: {output}", command.join(" ")))
            }
        }
        Probe::Log { line, times } => {
            let log = engine.logs_since(container, since).await.map_err(|e| e.to_string())?;
            let seen = log.lines().filter(|l| l.contains(line.as_str())).count();
            if seen >= *times { Ok(()) } else { Err(format!("`{line}` seen {seen} of {times} times in the log")) }
        }
    }
}

/// Doubling, capped: quick answers for fast services, few probes for slow ones.
fn next_delay(delay: Duration) -> Duration {
    (delay * 2).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let delays: Vec<Duration> =
            std::iter::successors(Some(FIRST_DELAY), |d| Some(next_delay(*d))).take(7).collect();
        let millis: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [100, 200, 400, 800, 1600, 2000, 2000]);
    }
}
