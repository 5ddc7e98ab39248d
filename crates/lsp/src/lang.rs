//! The languages the rules read, and the grammar for each.

use std::path::Path;

/// A grammar the rules know. TypeScript and TSX are separate grammars in tree-sitter; JavaScript
/// rules run on all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Rust,
    Go,
}

/// JavaScript rules apply to every member of the family.
pub const JS_FAMILY: &[Lang] = &[Lang::JavaScript, Lang::TypeScript, Lang::Tsx];

impl Lang {
    pub const ALL: [Lang; 6] = [Lang::Python, Lang::JavaScript, Lang::TypeScript, Lang::Tsx, Lang::Rust, Lang::Go];

    /// The language of a file, from its extension.
    pub fn from_path(path: &Path) -> Option<Lang> {
        Lang::from_extension(path.extension()?.to_str()?)
    }

    pub fn from_extension(ext: &str) -> Option<Lang> {
        Some(match ext {
            "py" | "pyi" => Lang::Python,
            "js" | "mjs" | "cjs" | "jsx" => Lang::JavaScript,
            "ts" | "mts" | "cts" => Lang::TypeScript,
            "tsx" => Lang::Tsx,
            "rs" => Lang::Rust,
            "go" => Lang::Go,
            _ => return None,
        })
    }

    /// The language from an LSP `languageId`, for documents that have no file extension.
    pub fn from_language_id(id: &str) -> Option<Lang> {
        Some(match id {
            "python" => Lang::Python,
            "javascript" | "javascriptreact" => Lang::JavaScript,
            "typescript" => Lang::TypeScript,
            "typescriptreact" => Lang::Tsx,
            "rust" => Lang::Rust,
            "go" => Lang::Go,
            _ => return None,
        })
    }

    pub fn grammar(self) -> tree_sitter::Language {
        match self {
            Lang::Python => tree_sitter_python::LANGUAGE.into(),
            Lang::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
            Lang::Go => tree_sitter_go::LANGUAGE.into(),
        }
    }

    /// A parser for this language.
    pub fn parser(self) -> tree_sitter::Parser {
        let mut p = tree_sitter::Parser::new();
        // The grammars are pinned in the workspace to versions that agree with the core.
        p.set_language(&self.grammar()).expect("grammar compatible with tree-sitter core");
        p
    }
}
