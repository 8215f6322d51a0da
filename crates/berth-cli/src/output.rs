//! Writing to the terminal: stdout that ends quietly on a closed pipe, stderr, and docker's
//! "Are you sure you want to continue? [y/N]" prompt.

use std::io::{self, BufRead, Write};

use crate::error::{Error, Result};

fn quiet_pipe(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Error::Exit(0)
    } else {
        Error::Io(e)
    }
}

/// Writes `s` to stdout and flushes.
pub fn out(s: &str) -> Result<()> {
    let mut o = io::stdout().lock();
    o.write_all(s.as_bytes()).map_err(quiet_pipe)?;
    o.flush().map_err(quiet_pipe)
}

/// Writes `s` and a newline to stdout.
pub fn outln(s: &str) -> Result<()> {
    out(&format!("{s}\n"))
}

/// Writes a line to stderr; errors writing to stderr are ignored.
pub fn errln(s: &str) {
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "{s}");
}

/// Prints `message` and docker's confirmation question; true when the answer is y/yes.
pub fn confirm(message: &str) -> Result<bool> {
    out(&format!(
        "{message}\nAre you sure you want to continue? [y/N] "
    ))?;
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    let answer = line.trim().to_lowercase();
    Ok(answer == "y" || answer == "yes")
}
