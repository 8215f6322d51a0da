//! Go's text/tabwriter as docker configures it (minwidth 10, padding 3, spaces), so tables
//! line up exactly as docker prints them.

/// Aligns tab-separated cells: each column is as wide as its widest cell plus `padding`, at
/// least `min_width`; the last cell of each line is not padded. Columns are computed per block
/// of consecutive lines that have the column, as Go's tabwriter does.
pub fn align(text: &str, min_width: usize, padding: usize) -> String {
    let had_newline = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<Vec<&str>> = body.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut w = Writer {
        lines: &lines,
        min_width,
        padding,
        widths: Vec::new(),
        out: String::with_capacity(text.len() * 2),
    };
    w.format(0, lines.len());
    let mut out = w.out;
    if !had_newline {
        out.pop();
    }
    out
}

/// Docker's tables: minwidth 10, padding 3.
pub fn table(text: &str) -> String {
    align(text, 10, 3)
}

struct Writer<'a> {
    lines: &'a [Vec<&'a str>],
    min_width: usize,
    padding: usize,
    widths: Vec<usize>,
    out: String,
}

fn width(s: &str) -> usize {
    s.chars().count()
}

impl Writer<'_> {
    fn format(&mut self, mut line0: usize, line1: usize) {
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            // A block of lines having this column starts here.
            self.write_lines(line0, this);
            line0 = this;
            let mut w = self.min_width;
            while this < line1 && column + 1 < self.lines[this].len() {
                w = w.max(width(self.lines[this][column]) + self.padding);
                this += 1;
            }
            self.widths.push(w);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for line in &self.lines[line0..line1] {
            for (j, cell) in line.iter().enumerate() {
                self.out.push_str(cell);
                if j < self.widths.len() && j + 1 < line.len() {
                    let pad = self.widths[j].saturating_sub(width(cell));
                    self.out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            self.out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_ps_header() {
        let t = table("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n");
        assert_eq!(
            t,
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn widest_cell_plus_three() {
        let t = table(
            "REPOSITORY\tTAG\tSIZE\nbusybox\tlatest\t4.26MB\nverylongrepositoryname\t1\t1B\n",
        );
        assert_eq!(
            t,
            "REPOSITORY               TAG       SIZE\n\
             busybox                  latest    4.26MB\n\
             verylongrepositoryname   1         1B\n"
        );
    }

    #[test]
    fn ragged_lines_form_blocks() {
        let t = align("a\tb\nlonger cell\tc\tz\nx\n", 1, 1);
        assert_eq!(t, "a           b\nlonger cell c z\nx\n");
    }
}
