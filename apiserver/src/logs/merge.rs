//! Merging what several nodes answer to a read that does not follow: one order by the time
//! each line was written, then the request's tail.

use minicloud_proto::v1::LogLine;

/// `lines` of every node in the order written (node order breaking ties), the last `tail`
/// only when `tail` is not 0.
pub fn merged(mut lines: Vec<LogLine>, tail: usize) -> Vec<LogLine> {
    lines.sort_by_key(|line| line.time_unix_nanos);
    if tail > 0 && lines.len() > tail {
        lines.drain(..lines.len() - tail);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, time: i64) -> LogLine {
        LogLine {
            text: text.into(),
            time_unix_nanos: time,
            ..LogLine::default()
        }
    }

    fn texts(lines: &[LogLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn lines_of_several_nodes_come_out_in_the_order_written() {
        let lines = vec![line("a", 1), line("c", 3), line("b", 2), line("b2", 2)];
        assert_eq!(texts(&merged(lines.clone(), 0)), ["a", "b", "b2", "c"]);
        assert_eq!(texts(&merged(lines, 2)), ["b2", "c"]);
    }
}
