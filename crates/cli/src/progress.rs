//! How `up` shows its agents at work: a spinner per stage on a terminal (indicatif), plain
//! `==>` lines in CI and when stderr is not a terminal. Agents report through
//! [`repo_run_agents::up::Reporter`]; the pipeline's own events come through [`UpReporter::pipeline`].

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use repo_run_agents::pipeline::{Progress, Stage};
use repo_run_agents::up::Reporter;

pub struct UpReporter {
    /// `None`: plain lines.
    bars: Option<MultiProgress>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    current: Option<(Stage, ProgressBar)>,
    /// The step message, so an output line can be shown after it.
    step: String,
}

impl UpReporter {
    pub fn new(plain: bool) -> Self {
        let bars = (!plain).then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        UpReporter { bars, inner: Mutex::new(Inner::default()) }
    }

    /// The pipeline's stage events.
    pub fn pipeline(&self, event: &Progress) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Progress::Started { stage, agent } => {
                inner.step.clear();
                match &self.bars {
                    Some(multi) => {
                        let bar = multi.add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg}")
                                .expect("a valid template"),
                        );
                        bar.set_prefix(format!("{:<12}", stage.name()));
                        bar.enable_steady_tick(Duration::from_millis(100));
                        if *agent != "rules" {
                            bar.set_message(format!("({agent})"));
                        }
                        inner.current = Some((*stage, bar));
                    }
                    None => eprintln!("==> {}", stage.name()),
                }
            }
            Progress::Finished { stage, elapsed } => match inner.current.take() {
                Some((_, bar)) => {
                    bar.set_style(ProgressStyle::with_template("{prefix:.green.bold} {wide_msg}").expect("template"));
                    bar.set_prefix(format!("✓ {:<10}", stage.name()));
                    bar.finish_with_message(format!("{:.1?}", elapsed));
                }
                None => eprintln!("    done in {elapsed:.1?}"),
            },
            Progress::Retrying { redo_from, attempt } => {
                let line = format!("    fixer: attempt {attempt} done; again from {}", redo_from.name());
                match &self.bars {
                    Some(multi) => {
                        let _ = multi.println(line);
                    }
                    None => eprintln!("{line}"),
                }
            }
            Progress::Dropped { project, redo_from } => {
                let line = format!("    {project}: given up on; the other apps go on from {}", redo_from.name());
                match &self.bars {
                    Some(multi) => {
                        let _ = multi.println(line);
                    }
                    None => eprintln!("{line}"),
                }
            }
            Progress::Failed { stage, .. } => match inner.current.take() {
                Some((_, bar)) => {
                    bar.set_style(ProgressStyle::with_template("{prefix:.red.bold} {wide_msg}").expect("template"));
                    bar.set_prefix(format!("✗ {:<10}", stage.name()));
                    bar.abandon_with_message("failed");
                }
                None => eprintln!("    {} failed", stage.name()),
            },
        }
    }

    /// A line above the bars (or plain on stderr).
    pub fn println(&self, line: &str) {
        match &self.bars {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }

    /// Runs `f` with the bars hidden (a question on the terminal).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bars {
            Some(multi) => multi.suspend(f),
            None => f(),
        }
    }

    /// Removes what is left of the bars before the summary is printed.
    pub fn finish(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, bar)) = inner.current.take() {
            bar.abandon();
        }
    }
}

impl Reporter for UpReporter {
    fn step(&self, _stage: Stage, message: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.step = message.to_owned();
        match &inner.current {
            Some((_, bar)) => bar.set_message(message.to_owned()),
            None => eprintln!("    {message}"),
        }
    }

    fn output(&self, _stage: Stage, line: &str) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Only a terminal shows output live (the last line, beside the step); the whole output
        // is in the log files, which failures name.
        if let Some((_, bar)) = &inner.current {
            let line: String = line.trim().chars().take(80).collect();
            if !line.is_empty() {
                bar.set_message(format!("{} │ {line}", inner.step));
            }
        }
    }

    fn note(&self, stage: Stage, message: &str) {
        self.println(&format!("    {}: {message}", stage.name()));
    }
}
