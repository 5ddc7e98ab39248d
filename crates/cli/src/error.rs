//! One renderer for every failure: `error:`, then `caused by:` lines, then `hint:` lines.

use std::io::Write;

use anstyle::{AnsiColor, Style};

/// An error with a next step for the user.
#[derive(Debug)]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// Build an error that carries a hint.
pub fn hinted(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted { message: message.into(), hint: hint.into() })
}

pub fn report(err: &anyhow::Error) {
    let red = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
    let cyan = Style::new().bold().fg_color(Some(AnsiColor::Cyan.into()));
    let mut out = anstream::stderr().lock();
    let _ = writeln!(out, "{red}error{red:#}: {err}");
    for cause in err.chain().skip(1) {
        let _ = writeln!(out, "  caused by: {cause}");
    }
    for e in err.chain() {
        if let Some(h) = e.downcast_ref::<Hinted>() {
            let _ = writeln!(out, "{cyan}hint{cyan:#}: {}", h.hint);
        }
    }
}
