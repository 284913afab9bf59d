//! Plain aligned columns in kubectl's style: no borders, three spaces between columns, the last
//! column unpadded. Widths can be fixed up front so that `mini get -w` prints rows one at a
//! time under the same header.

/// Space between columns.
const GAP: usize = 3;

/// The width of each column: its widest cell, header included.
pub fn widths(header: &[String], rows: &[Vec<String>]) -> Vec<usize> {
    let mut widths: Vec<usize> = header.iter().map(|title| width(title)).collect();
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            if let Some(widest) = widths.get_mut(column) {
                *widest = (*widest).max(width(cell));
            }
        }
    }
    widths
}

/// Widths for a table whose rows are not known yet: each column as wide as its title, and at
/// least `minimum`, so that typical values line up.
pub fn widths_at_least(header: &[String], minimum: usize) -> Vec<usize> {
    widths(header, &[])
        .into_iter()
        .map(|w| w.max(minimum))
        .collect()
}

/// One line of cells padded to `widths` (a wider cell pushes the rest right).
pub fn format_row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (column, cell) in cells.iter().enumerate() {
        line.push_str(cell);
        if column + 1 < cells.len() {
            let pad = widths
                .get(column)
                .copied()
                .unwrap_or(0)
                .saturating_sub(width(cell));
            line.push_str(&" ".repeat(pad + GAP));
        }
    }
    line.truncate(line.trim_end().len());
    line
}

/// A whole table, header first, each line ending in a newline.
pub fn render(header: &[String], rows: &[Vec<String>]) -> String {
    render_with(header, rows, &widths(header, rows))
}

/// A whole table with the given column widths.
pub fn render_with(header: &[String], rows: &[Vec<String>], widths: &[usize]) -> String {
    std::iter::once(header)
        .chain(rows.iter().map(Vec::as_slice))
        .map(|cells| format_row(cells, widths) + "\n")
        .collect()
}

fn width(cell: &str) -> usize {
    cell.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| cell.to_string()).collect()
    }

    #[test]
    fn columns_are_aligned_to_their_widest_cell() {
        let header = strings(&["NAME", "IMAGE", "AGE"]);
        let rows = vec![
            strings(&["hello", "hello:1", "5s"]),
            strings(&["a-much-longer-name", "x", "3d"]),
        ];
        assert_eq!(
            render(&header, &rows),
            "NAME                 IMAGE     AGE\n\
             hello                hello:1   5s\n\
             a-much-longer-name   x         3d\n"
        );
    }

    #[test]
    fn the_last_column_has_no_trailing_spaces() {
        let header = strings(&["NAME", "MESSAGE"]);
        let rows = vec![strings(&["a", ""])];
        assert!(render(&header, &rows).lines().all(|l| l == l.trim_end()));
    }

    #[test]
    fn minimum_widths_apply_to_short_titles_only() {
        let header = strings(&["NAME", "A-LONG-TITLE"]);
        assert_eq!(widths_at_least(&header, 10), [10, 12]);
    }

    #[test]
    fn a_cell_wider_than_its_fixed_width_pushes_the_rest_right() {
        let row = format_row(&strings(&["long-name", "x"]), &[4, 1]);
        assert_eq!(row, "long-name   x");
    }
}
