//! Positions: tree-sitter counts bytes, LSP counts UTF-16 code units, people count lines from 1.
//! A [`LineIndex`] converts between them for one version of a text.

/// A zero-based line and a column in UTF-16 code units (LSP's default encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

/// Line starts of a text, to convert byte offsets to and from line/UTF-16 positions.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// Zero-based line containing byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|s| *s <= offset).saturating_sub(1)
    }

    /// The text of zero-based `line`, without its line break.
    pub fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.starts.get(line).copied().unwrap_or(text.len()).min(text.len());
        let end = self.starts.get(line + 1).map_or(text.len(), |e| e - 1).min(text.len());
        text.get(start..end.max(start)).unwrap_or("").trim_end_matches('\r')
    }

    /// Byte `offset` as tree-sitter's point: row and byte column.
    pub fn point(&self, offset: usize) -> tree_sitter::Point {
        let row = self.line_of(offset);
        tree_sitter::Point { row, column: offset - self.starts[row] }
    }

    /// Byte `offset` (clamped to the text, moved back to a char boundary) as a UTF-16 position.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_of(offset);
        let start = self.starts[line];
        let character = text[start..offset].encode_utf16().count() as u32;
        Position { line: line as u32, character }
    }

    /// A UTF-16 position as a byte offset. A column past the end of its line means the end of
    /// the line, a line past the end means the end of the text, as LSP asks.
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else { return text.len() };
        let end = self.starts.get(pos.line as usize + 1).map_or(text.len(), |e| e - 1);
        let mut units = 0u32;
        for (i, c) in text[start..end].char_indices() {
            if units >= pos.character {
                return start + i;
            }
            units += c.len_utf16() as u32;
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_count_surrogate_pairs_twice() {
        let text = "a = 1\nb = \"é😀\" + x\n";
        let idx = LineIndex::new(text);
        let x = text.find('x').unwrap();
        // b, space, =, space, quote, é (1 unit), 😀 (2 units), quote, space, +, space
        assert_eq!(idx.position(text, x), Position { line: 1, character: 12 });
        assert_eq!(idx.offset(text, Position { line: 1, character: 12 }), x);
        assert_eq!(idx.line_text(text, 1), "b = \"é😀\" + x");
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let text = "ab\ncd";
        let idx = LineIndex::new(text);
        assert_eq!(idx.offset(text, Position { line: 0, character: 99 }), 2);
        assert_eq!(idx.offset(text, Position { line: 7, character: 0 }), text.len());
        assert_eq!(idx.position(text, 999), Position { line: 1, character: 2 });
    }
}
