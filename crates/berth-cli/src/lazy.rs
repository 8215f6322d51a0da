//! Deferred clap arguments: a subcommand's flags are built only when that subcommand is
//! parsed or its help is shown. `run` and `create` carry docker's hundred-odd container flags,
//! twice each (`berth run`, `berth container run`); building them on every call cost about a
//! millisecond of each `berth` invocation.

use clap::{ArgMatches, Args, Command, FromArgMatches};

/// `T`'s arguments, added to its command only when clap builds that command.
#[derive(Debug)]
pub struct Lazy<T>(pub T);

impl<T: Args> Args for Lazy<T> {
    fn augment_args(cmd: Command) -> Command {
        cmd.defer(|c| keep_about(c, T::augment_args))
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        cmd.defer(|c| keep_about(c, T::augment_args_for_update))
    }
}

/// The subcommand's own description (its variant's doc) stays, not `T`'s doc comment.
fn keep_about(c: Command, augment: fn(Command) -> Command) -> Command {
    let (about, long) = (c.get_about().cloned(), c.get_long_about().cloned());
    let mut c = augment(c);
    if let Some(a) = about {
        c = c.about(a);
    }
    if let Some(l) = long {
        c = c.long_about(l);
    }
    c
}

impl<T: FromArgMatches> FromArgMatches for Lazy<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Lazy)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

impl<T> std::ops::Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Heavy's own doc, which the subcommand's help does not show
    #[derive(Args, Debug)]
    struct Heavy {
        #[arg(long)]
        name: Option<String>,
        rest: Vec<String>,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Sub {
        /// The heavy one
        Heavy(Lazy<Heavy>),
    }

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        sub: Sub,
    }

    #[test]
    fn deferred_args_parse_and_show_in_help() {
        let Sub::Heavy(h) = Cli::try_parse_from(["x", "heavy", "--name", "n", "a", "b"])
            .unwrap()
            .sub;
        assert_eq!(h.name.as_deref(), Some("n"));
        assert_eq!(h.rest, ["a", "b"]);
        let help = Cli::try_parse_from(["x", "heavy", "--help"])
            .unwrap_err()
            .to_string();
        assert!(help.contains("--name"), "{help}");
        assert!(help.starts_with("The heavy one"), "{help}");
        let top = Cli::try_parse_from(["x", "--help"])
            .unwrap_err()
            .to_string();
        assert!(top.contains("The heavy one"), "{top}");
        let bad = Cli::try_parse_from(["x", "heavy", "--nope"])
            .unwrap_err()
            .to_string();
        assert!(bad.contains("--nope"), "{bad}");
    }
}
