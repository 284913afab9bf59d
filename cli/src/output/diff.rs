//! Unified diffs for people: added lines green, removed lines red, hunk headers cyan. The
//! colors reach the terminal only when stdout is one (anstream strips them otherwise, and
//! honours `NO_COLOR` and `CLICOLOR_FORCE`).

use std::io::Write;

use anstyle::{AnsiColor, Style};

/// `diff` with ANSI colors on each line.
pub fn colorize(diff: &str) -> String {
    diff.lines()
        .map(|line| {
            let style = style_of(line);
            format!("{style}{line}{style:#}\n")
        })
        .collect()
}

fn style_of(line: &str) -> Style {
    let color = |color: AnsiColor| Style::new().fg_color(Some(color.into()));
    if line.starts_with("+++") || line.starts_with("---") {
        Style::new().bold()
    } else if line.starts_with('+') {
        color(AnsiColor::Green)
    } else if line.starts_with('-') {
        color(AnsiColor::Red)
    } else if line.starts_with("@@") {
        color(AnsiColor::Cyan)
    } else {
        Style::new()
    }
}

/// Names the object in the diff's header lines (`--- app/web (live)`), for output that holds
/// the diffs of several objects.
pub fn relabel(diff: &str, label: &str) -> String {
    diff.lines()
        .map(|line| match line {
            "--- live" => format!("--- {label} (live)\n"),
            "+++ applied" => format!("+++ {label} (applied)\n"),
            other => format!("{other}\n"),
        })
        .collect()
}

/// Prints `diff` to stdout, colored when stdout is a terminal.
pub fn print(diff: &str) -> std::io::Result<()> {
    let mut stdout = anstream::stdout();
    stdout.write_all(colorize(diff).as_bytes())?;
    stdout.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_and_removed_lines_get_colors() {
        let colored = colorize("--- live\n+++ applied\n@@ -1 +1 @@\n-a\n+b\n c\n");
        let lines: Vec<&str> = colored.lines().collect();
        assert_eq!(lines[3], "\u{1b}[31m-a\u{1b}[0m");
        assert_eq!(lines[4], "\u{1b}[32m+b\u{1b}[0m");
        assert_eq!(lines[5], " c");
    }

    #[test]
    fn relabelling_names_the_object_in_the_headers() {
        let diff = "--- live\n+++ applied\n@@ -1 +1 @@\n-a\n+b\n";
        let relabelled = relabel(diff, "app/web");
        assert!(relabelled.starts_with("--- app/web (live)\n+++ app/web (applied)\n@@"));
    }

    #[test]
    fn stripping_the_colors_gives_back_the_diff() {
        let diff = "--- live\n+++ applied\n@@ -1 +1 @@\n-a\n+b\n";
        assert_eq!(
            anstream::adapter::strip_str(&colorize(diff)).to_string(),
            diff
        );
    }
}
