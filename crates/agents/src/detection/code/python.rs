//! TEMPORARY: filled in by the python detection work in this session.
use super::{CodeFacts, Scanner};

pub struct Python;

impl Scanner for Python {
    fn id(&self) -> &'static str {
        "code.python"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &[]
    }
    fn grammar(&self, _ext: &str) -> tree_sitter::Language {
        tree_sitter_python::LANGUAGE.into()
    }
    fn scan(&self, _ext: &str, _tree: &tree_sitter::Tree, _source: &str, _out: &mut CodeFacts) {}
}
