//! The two things the Fixer reads of a pip requirements line: the package it names, and that
//! name as PEP 503 compares it (case-insensitive, `-`, `_` and `.` alike). Shared by the
//! derived requirements of a constraint, `fix --apply`, and the no-wheel rule.

/// The package a requirements line names (`Flask[async]>=2 ; python_version…` → `Flask`);
/// `None` for comments, options (`-r`, `-e`) and blank lines.
pub(crate) fn requirement_name(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
        return None;
    }
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(line.len());
    (end > 0).then(|| &line[..end])
}

/// PEP 503's normal form of a package name.
pub(crate) fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// Whether two names are the same package.
pub(crate) fn same_package(a: &str, b: &str) -> bool {
    normalise(a) == normalise(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_as_pep_503_says() {
        assert_eq!(requirement_name("Flask[async]>=2 ; python_version > '3'"), Some("Flask"));
        assert_eq!(requirement_name("-r other.txt"), None);
        assert_eq!(requirement_name("  # pinned"), None);
        assert!(same_package("Django_REST.framework", "django-rest-framework"));
        assert_eq!(normalise("Zope.Interface"), "zope-interface");
    }
}
