//! Reading the runtime versions a project asks for, from version-manager files (`.nvmrc`,
//! `.python-version`, `rust-toolchain.toml`, `.tool-versions`, `mise.toml`, …) and manifests
//! (`engines.node`, `requires-python`, `rust-version`, `go.mod`, `Gemfile`, `pom.xml`, …).
//!
//! Files are looked up in the project directory first, then in each ancestor up to the root,
//! because a monorepo's root `.nvmrc` applies to its apps. Constraints come back nearest first.

use crate::detection::manifest::{line_at, line_of, line_starting};
use crate::plan::{Evidence, Runtime};
use crate::repo::RepoView;

use super::{ancestors, join, read_json, read_toml};

/// One version constraint, as written, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub runtime: Runtime,
    /// The constraint as written (`>=18 <21`, `3.11`, `nightly-2024-01-01`, `go1.22.1`).
    pub text: String,
    /// From a version manager's file (nvm, pyenv, rustup, asdf, mise, volta…), which installs
    /// one version, rather than a manifest's compatibility range.
    pub pin: bool,
    pub evidence: Evidence,
}

/// Every constraint for `runtime` that applies to the project in `dir`, nearest first.
pub fn constraints(repo: &RepoView, dir: &str, runtime: Runtime) -> Vec<Constraint> {
    let mut out = Vec::new();
    for d in ancestors(dir) {
        let mut found = Found { repo, dir: &d, runtime, out: &mut out };
        match runtime {
            Runtime::Node => {
                found.plain(".nvmrc", "node.version.nvmrc");
                found.plain(".node-version", "node.version.node-version");
                found.tool_versions(&["nodejs", "node"]);
                found.mise(&["node", "nodejs"]);
                found.package_json(&["volta", "node"], true, "node.version.volta");
                found.package_json(&["engines", "node"], false, "node.version.engines");
            }
            Runtime::Bun => {
                found.plain(".bun-version", "bun.version.bun-version");
                found.tool_versions(&["bun"]);
                found.mise(&["bun"]);
                found.package_json(&["engines", "bun"], false, "bun.version.engines");
            }
            Runtime::Python => {
                found.plain(".python-version", "python.version.python-version");
                found.tool_versions(&["python"]);
                found.mise(&["python"]);
                found.runtime_txt();
                found.pipfile();
                found.pyproject();
            }
            Runtime::Rust => {
                found.rust_toolchain();
                found.tool_versions(&["rust"]);
                found.mise(&["rust"]);
                found.cargo_rust_version();
            }
            Runtime::Go => {
                found.tool_versions(&["golang", "go"]);
                found.mise(&["go", "golang"]);
                found.go_mod();
            }
            Runtime::Ruby => {
                found.plain(".ruby-version", "ruby.version.ruby-version");
                found.tool_versions(&["ruby"]);
                found.mise(&["ruby"]);
                found.gemfile();
            }
            Runtime::Java => {
                found.plain(".java-version", "java.version.java-version");
                found.sdkmanrc();
                found.tool_versions(&["java"]);
                found.mise(&["java"]);
                found.pom();
                found.gradle();
            }
            Runtime::Php => {
                found.tool_versions(&["php"]);
                found.mise(&["php"]);
                found.composer();
            }
        }
    }
    out
}

struct Found<'a> {
    repo: &'a RepoView,
    dir: &'a str,
    runtime: Runtime,
    out: &'a mut Vec<Constraint>,
}

impl Found<'_> {
    fn push(&mut self, file: &str, line: Option<u32>, rule: &str, text: &str, pin: bool) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let evidence = Evidence::new(join(self.dir, file), line, rule);
        self.out.push(Constraint { runtime: self.runtime, text: text.to_owned(), pin, evidence });
    }

    fn read(&self, file: &str) -> Option<String> {
        let path = join(self.dir, file);
        if !self.repo.exists(&path) {
            return None;
        }
        self.repo.read_text(&path).map(|t| t.content)
    }

    /// A file whose first meaningful line is the version (`.nvmrc`, `.python-version`).
    fn plain(&mut self, file: &str, rule: &str) {
        let Some(text) = self.read(file) else { return };
        if let Some((i, line)) = first_line(&text) {
            self.push(file, Some(i), rule, line, true);
        }
    }

    /// asdf's `.tool-versions`: `nodejs 20.11.0` (the first of several versions is used).
    fn tool_versions(&mut self, names: &[&str]) {
        let Some(text) = self.read(".tool-versions") else { return };
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(tool), Some(version)) = (words.next(), words.next()) else { continue };
            if names.contains(&tool) {
                let rule = format!("{}.version.tool-versions", self.runtime);
                self.push(".tool-versions", Some(i as u32 + 1), &rule, version, true);
                return;
            }
        }
    }

    /// mise's `[tools]` table: `node = "20"`, `node = ["20", "18"]`, `node = { version = "20" }`.
    fn mise(&mut self, names: &[&str]) {
        for file in ["mise.toml", ".mise.toml"] {
            let Some((text, table)) = read_toml(self.repo, &join(self.dir, file)) else { continue };
            let Some(tools) = table.get("tools").and_then(|t| t.as_table()) else { continue };
            for name in names {
                let Some(value) = tools.get(*name) else { continue };
                let version = match value {
                    toml::Value::String(s) => Some(s.as_str()),
                    toml::Value::Array(a) => a.first().and_then(|v| v.as_str()),
                    toml::Value::Table(t) => t.get("version").and_then(|v| v.as_str()),
                    _ => None,
                };
                if let Some(version) = version {
                    let line = line_starting(&text, &format!("{name} ")).or_else(|| line_starting(&text, name));
                    let rule = format!("{}.version.mise", self.runtime);
                    self.push(file, line, &rule, version, true);
                    return;
                }
            }
        }
    }

    fn package_json(&mut self, keys: &[&str; 2], pin: bool, rule: &str) {
        let Some((text, json)) = read_json(self.repo, &join(self.dir, "package.json")) else { return };
        if let Some(v) = json.get(keys[0]).and_then(|o| o.get(keys[1])).and_then(|v| v.as_str()) {
            let (outer, inner) = (format!("\"{}\"", keys[0]), format!("\"{}\"", keys[1]));
            let line = text
                .find(&outer)
                .and_then(|at| text[at..].find(&inner).map(|i| line_at(&text, at + i)))
                .or_else(|| line_of(&text, &inner));
            self.push("package.json", line, rule, v, pin);
        }
    }

    /// Heroku's `runtime.txt`: `python-3.11.4`.
    fn runtime_txt(&mut self) {
        let Some(text) = self.read("runtime.txt") else { return };
        if let Some((i, v)) = first_line(&text).and_then(|(i, l)| Some((i, l.strip_prefix("python-")?))) {
            self.push("runtime.txt", Some(i), "python.version.runtime-txt", v, true);
        }
    }

    /// `Pipfile` `[requires] python_version = "3.11"` (or `python_full_version`).
    fn pipfile(&mut self) {
        let Some((text, table)) = read_toml(self.repo, &join(self.dir, "Pipfile")) else { return };
        let Some(requires) = table.get("requires").and_then(|r| r.as_table()) else { return };
        for key in ["python_full_version", "python_version"] {
            if let Some(v) = requires.get(key).and_then(|v| v.as_str()) {
                self.push("Pipfile", line_starting(&text, key), "python.version.pipfile", v, false);
                return;
            }
        }
    }

    /// `requires-python` (PEP 621), else Poetry's `python = "^3.10"` dependency.
    fn pyproject(&mut self) {
        let Some((text, table)) = read_toml(self.repo, &join(self.dir, "pyproject.toml")) else { return };
        if let Some(v) = table.get("project").and_then(|p| p.get("requires-python")).and_then(|v| v.as_str()) {
            let line = line_starting(&text, "requires-python");
            self.push("pyproject.toml", line, "python.version.requires-python", v, false);
            return;
        }
        let poetry = table.get("tool").and_then(|t| t.get("poetry")).and_then(|p| p.get("dependencies"));
        if let Some(v) = poetry.and_then(|d| d.get("python")).and_then(|v| v.as_str()) {
            let line = line_starting(&text, "python =").or_else(|| line_starting(&text, "python="));
            self.push("pyproject.toml", line, "python.version.poetry", v, false);
        }
    }

    /// `rust-toolchain.toml` `[toolchain] channel`, or a legacy `rust-toolchain` holding either
    /// the channel alone or the same TOML.
    fn rust_toolchain(&mut self) {
        for file in ["rust-toolchain.toml", "rust-toolchain"] {
            let Some(text) = self.read(file) else { continue };
            if text.contains("[toolchain]") {
                let Some((_, table)) = read_toml(self.repo, &join(self.dir, file)) else { continue };
                if let Some(channel) = table.get("toolchain").and_then(|t| t.get("channel")).and_then(|c| c.as_str()) {
                    self.push(file, line_starting(&text, "channel"), "rust.version.toolchain-file", channel, true);
                }
            } else if let Some((i, line)) = first_line(&text) {
                self.push(file, Some(i), "rust.version.toolchain-file", line, true);
            }
            return;
        }
    }

    /// `Cargo.toml` `rust-version`: the minimum supported Rust version.
    fn cargo_rust_version(&mut self) {
        let Some((text, table)) = read_toml(self.repo, &join(self.dir, "Cargo.toml")) else { return };
        let v = ["package", "workspace"].iter().find_map(|section| {
            let t = table.get(*section)?;
            let t = if *section == "workspace" { t.get("package")? } else { t };
            t.get("rust-version")?.as_str()
        });
        if let Some(v) = v {
            self.push("Cargo.toml", line_starting(&text, "rust-version"), "rust.version.rust-version", v, false);
        }
    }

    /// `go 1.21` (the minimum) and `toolchain go1.22.1` (the toolchain `go` switches to).
    fn go_mod(&mut self) {
        let Some(text) = self.read("go.mod") else { return };
        for (i, line) in text.lines().enumerate() {
            let mut words = line.split("//").next().unwrap_or("").split_whitespace();
            match (words.next(), words.next()) {
                (Some("toolchain"), Some(v)) => {
                    self.push("go.mod", Some(i as u32 + 1), "go.version.toolchain", v, false)
                }
                (Some("go"), Some(v)) => self.push("go.mod", Some(i as u32 + 1), "go.version.go-mod", v, false),
                _ => {}
            }
        }
    }

    /// `Gemfile` `ruby "3.2.2"`, `ruby "~> 3.2"`, `ruby ">= 3.0", "< 3.4"`.
    fn gemfile(&mut self) {
        let Some(text) = self.read("Gemfile") else { return };
        for (i, line) in text.lines().enumerate() {
            let Some(args) =
                line.trim_start().strip_prefix("ruby ").or_else(|| line.trim_start().strip_prefix("ruby("))
            else {
                continue;
            };
            let args = args.split('#').next().unwrap_or("");
            let versions: Vec<&str> = args
                .split(',')
                .map(|a| a.trim().trim_end_matches(')').trim())
                .take_while(|a| a.starts_with(['"', '\'']))
                .map(|a| a.trim_matches(['"', '\'']))
                .collect();
            if !versions.is_empty() {
                self.push("Gemfile", Some(i as u32 + 1), "ruby.version.gemfile", &versions.join(", "), false);
                return;
            }
        }
    }

    /// SDKMAN's `.sdkmanrc`: `java=17.0.9-tem`.
    fn sdkmanrc(&mut self) {
        let Some(text) = self.read(".sdkmanrc") else { return };
        if let Some(i) = line_starting(&text, "java=") {
            let v = text.lines().nth(i as usize - 1).and_then(|l| l.trim().strip_prefix("java=")).unwrap_or("");
            self.push(".sdkmanrc", Some(i), "java.version.sdkmanrc", v, true);
        }
    }

    /// `pom.xml` properties: `<java.version>`, `<maven.compiler.release>`, `<maven.compiler.source>`.
    fn pom(&mut self) {
        let Some(text) = self.read("pom.xml") else { return };
        for tag in ["maven.compiler.release", "java.version", "maven.compiler.source"] {
            let open = format!("<{tag}>");
            if let Some(start) = text.find(&open) {
                let rest = &text[start + open.len()..];
                if let Some(end) = rest.find('<') {
                    let v = rest[..end].trim();
                    if !v.starts_with("${") {
                        self.push("pom.xml", Some(line_at(&text, start)), "java.version.pom", v, false);
                        return;
                    }
                }
            }
        }
    }

    /// Gradle: `JavaLanguageVersion.of(17)` or Kotlin's `jvmToolchain(17)` (toolchains), else
    /// `sourceCompatibility = JavaVersion.VERSION_17`.
    fn gradle(&mut self) {
        for file in ["build.gradle.kts", "build.gradle"] {
            let Some(text) = self.read(file) else { continue };
            let found = [
                "JavaLanguageVersion.of(",
                "jvmToolchain(",
                "VERSION_",
                "sourceCompatibility = '",
                "sourceCompatibility = \"",
            ]
            .iter()
            .find_map(|needle| {
                let at = text.find(needle)?;
                let rest = &text[at + needle.len()..];
                let v: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '_' || *c == '.').collect();
                (!v.is_empty()).then(|| (line_at(&text, at), v.replace('_', ".")))
            });
            if let Some((line, v)) = found {
                self.push(file, Some(line), "java.version.gradle", &v, false);
                return;
            }
        }
    }

    /// `composer.json` `require.php`.
    fn composer(&mut self) {
        let Some((text, json)) = read_json(self.repo, &join(self.dir, "composer.json")) else { return };
        if let Some(v) = json.get("require").and_then(|r| r.get("php")).and_then(|v| v.as_str()) {
            self.push("composer.json", line_of(&text, "\"php\""), "php.version.composer", v, false);
        }
    }
}

/// The first line that is neither blank nor a comment, with its 1-based number.
fn first_line(text: &str) -> Option<(u32, &str)> {
    text.lines().enumerate().map(|(i, l)| (i as u32 + 1, l.trim())).find(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(files: &[(&str, &str)]) -> (tempfile::TempDir, RepoView) {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, contents).unwrap();
        }
        let view = RepoView::open(dir.path()).unwrap();
        (dir, view)
    }

    /// `(text, file, line, rule)` of each constraint.
    fn found(files: &[(&str, &str)], dir: &str, runtime: Runtime) -> Vec<(String, String, Option<u32>, String)> {
        let (_d, view) = repo(files);
        constraints(&view, dir, runtime)
            .into_iter()
            .map(|c| (c.text, c.evidence.file, c.evidence.line, c.evidence.rule))
            .collect()
    }

    fn one(text: &str, file: &str, line: u32, rule: &str) -> Vec<(String, String, Option<u32>, String)> {
        vec![(text.into(), file.into(), Some(line), rule.into())]
    }

    #[test]
    fn nvmrc_and_node_version() {
        assert_eq!(
            found(&[(".nvmrc", "# pin\nv20.11.0\n")], ".", Runtime::Node),
            one("v20.11.0", ".nvmrc", 2, "node.version.nvmrc")
        );
        assert_eq!(
            found(&[(".node-version", "18\n")], ".", Runtime::Node),
            one("18", ".node-version", 1, "node.version.node-version")
        );
        assert!(found(&[(".nvmrc", "\n\n")], ".", Runtime::Node).is_empty());
    }

    #[test]
    fn package_json_engines_and_volta() {
        let pkg = "{\n  \"name\": \"a\",\n  \"engines\": {\n    \"npm\": \">=9\",\n    \"node\": \">=18 <21\"\n  },\n  \"volta\": {\n    \"node\": \"20.11.0\"\n  }\n}\n";
        let got = found(&[("package.json", pkg)], ".", Runtime::Node);
        assert_eq!(got[0], ("20.11.0".into(), "package.json".into(), Some(8), "node.version.volta".into()));
        assert_eq!(got[1], (">=18 <21".into(), "package.json".into(), Some(5), "node.version.engines".into()));
        assert!(found(&[("package.json", "{\"engines\": {\"npm\": \"9\"}}")], ".", Runtime::Node).is_empty());
    }

    #[test]
    fn root_files_apply_to_members_nearest_first() {
        let files =
            [(".nvmrc", "20\n"), ("apps/web/package.json", "{\"engines\":{\"node\":\">=18\"}}"), ("apps/web/x.js", "")];
        let got = found(&files, "apps/web", Runtime::Node);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, "apps/web/package.json");
        assert_eq!(got[1].1, ".nvmrc");
        // A sibling's files do not apply.
        let files = [("apps/api/.nvmrc", "18\n"), ("apps/web/package.json", "{}")];
        assert!(found(&files, "apps/web", Runtime::Node).is_empty());
    }

    #[test]
    fn tool_versions_and_mise() {
        let tv = "# asdf\nnodejs 20.11.0\npython 3.11.7 3.10.13\ngolang 1.22\nruby 3.3.0\njava temurin-17.0.9+9\n";
        assert_eq!(
            found(&[(".tool-versions", tv)], ".", Runtime::Node),
            one("20.11.0", ".tool-versions", 2, "node.version.tool-versions")
        );
        assert_eq!(found(&[(".tool-versions", tv)], ".", Runtime::Python)[0].0, "3.11.7");
        assert_eq!(found(&[(".tool-versions", tv)], ".", Runtime::Go)[0].0, "1.22");
        assert_eq!(found(&[(".tool-versions", tv)], ".", Runtime::Ruby)[0].0, "3.3.0");
        assert_eq!(found(&[(".tool-versions", tv)], ".", Runtime::Java)[0].0, "temurin-17.0.9+9");
        assert!(found(&[(".tool-versions", tv)], ".", Runtime::Php).is_empty());
        let mise =
            "[env]\nX = \"1\"\n\n[tools]\nnode = \"22\"\npython = [\"3.12\", \"3.11\"]\ngo = { version = \"1.23\" }\n";
        assert_eq!(found(&[("mise.toml", mise)], ".", Runtime::Node), one("22", "mise.toml", 5, "node.version.mise"));
        assert_eq!(found(&[(".mise.toml", mise)], ".", Runtime::Python)[0].0, "3.12");
        assert_eq!(found(&[("mise.toml", mise)], ".", Runtime::Go)[0].0, "1.23");
    }

    #[test]
    fn python_sources() {
        assert_eq!(
            found(&[(".python-version", "3.11\n")], ".", Runtime::Python),
            one("3.11", ".python-version", 1, "python.version.python-version")
        );
        assert_eq!(
            found(&[("runtime.txt", "python-3.11.4\n")], ".", Runtime::Python),
            one("3.11.4", "runtime.txt", 1, "python.version.runtime-txt")
        );
        assert!(found(&[("runtime.txt", "ruby-3.2\n")], ".", Runtime::Python).is_empty());
        let pipfile = "[packages]\nflask = \"*\"\n\n[requires]\npython_version = \"3.10\"\n";
        assert_eq!(
            found(&[("Pipfile", pipfile)], ".", Runtime::Python),
            one("3.10", "Pipfile", 5, "python.version.pipfile")
        );
        let pep621 = "[project]\nname = \"x\"\nrequires-python = \">=3.9,<3.13\"\n";
        assert_eq!(
            found(&[("pyproject.toml", pep621)], ".", Runtime::Python),
            one(">=3.9,<3.13", "pyproject.toml", 3, "python.version.requires-python")
        );
        let poetry = "[tool.poetry]\nname = \"x\"\n\n[tool.poetry.dependencies]\npython = \"^3.10\"\nflask = \"^3\"\n";
        assert_eq!(
            found(&[("pyproject.toml", poetry)], ".", Runtime::Python),
            one("^3.10", "pyproject.toml", 5, "python.version.poetry")
        );
    }

    #[test]
    fn rust_sources() {
        let toml = "[toolchain]\nchannel = \"1.75\"\ncomponents = [\"clippy\"]\n";
        assert_eq!(
            found(&[("rust-toolchain.toml", toml)], ".", Runtime::Rust),
            one("1.75", "rust-toolchain.toml", 2, "rust.version.toolchain-file")
        );
        assert_eq!(
            found(&[("rust-toolchain", "nightly-2024-01-01\n")], ".", Runtime::Rust),
            one("nightly-2024-01-01", "rust-toolchain", 1, "rust.version.toolchain-file")
        );
        assert_eq!(found(&[("rust-toolchain", toml)], ".", Runtime::Rust)[0].0, "1.75");
        let cargo = "[package]\nname = \"a\"\nversion = \"0.1.0\"\nrust-version = \"1.70\"\n";
        assert_eq!(
            found(&[("Cargo.toml", cargo)], ".", Runtime::Rust),
            one("1.70", "Cargo.toml", 4, "rust.version.rust-version")
        );
        let ws = "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\nrust-version = \"1.80\"\n";
        let member = "[package]\nname = \"a\"\nrust-version.workspace = true\n";
        let got = found(&[("Cargo.toml", ws), ("a/Cargo.toml", member)], "a", Runtime::Rust);
        assert_eq!(got, one("1.80", "Cargo.toml", 5, "rust.version.rust-version"));
    }

    #[test]
    fn go_mod_lines() {
        let gomod = "module example.com/app\n\ngo 1.21\n\ntoolchain go1.22.1 // pinned\n\nrequire github.com/gin-gonic/gin v1.9.1\n";
        let got = found(&[("go.mod", gomod)], ".", Runtime::Go);
        assert_eq!(got[0], ("1.21".into(), "go.mod".into(), Some(3), "go.version.go-mod".into()));
        assert_eq!(got[1], ("go1.22.1".into(), "go.mod".into(), Some(5), "go.version.toolchain".into()));
    }

    #[test]
    fn ruby_sources() {
        assert_eq!(found(&[(".ruby-version", "ruby-3.2.2\n")], ".", Runtime::Ruby)[0].0, "ruby-3.2.2");
        let gemfile = "source \"https://rubygems.org\"\n\nruby \"3.2.2\"\n\ngem \"rails\"\n";
        assert_eq!(
            found(&[("Gemfile", gemfile)], ".", Runtime::Ruby),
            one("3.2.2", "Gemfile", 3, "ruby.version.gemfile")
        );
        let ranged = "ruby '>= 3.0', '< 3.4'\n";
        assert_eq!(found(&[("Gemfile", ranged)], ".", Runtime::Ruby)[0].0, ">= 3.0, < 3.4");
        // `ruby file: ".ruby-version"` names no version itself.
        assert!(found(&[("Gemfile", "ruby file: \".ruby-version\"\n")], ".", Runtime::Ruby).is_empty());
    }

    #[test]
    fn java_sources() {
        let pom = "<project>\n  <properties>\n    <java.version>17</java.version>\n  </properties>\n</project>\n";
        assert_eq!(found(&[("pom.xml", pom)], ".", Runtime::Java), one("17", "pom.xml", 3, "java.version.pom"));
        let release = "<project>\n<properties>\n<maven.compiler.release>21</maven.compiler.release>\n<java.version>${x}</java.version>\n</properties>\n</project>\n";
        assert_eq!(found(&[("pom.xml", release)], ".", Runtime::Java)[0].0, "21");
        let gradle = "java {\n    toolchain {\n        languageVersion = JavaLanguageVersion.of(21)\n    }\n}\n";
        assert_eq!(
            found(&[("build.gradle.kts", gradle)], ".", Runtime::Java),
            one("21", "build.gradle.kts", 3, "java.version.gradle")
        );
        let kotlin = "plugins { kotlin(\"jvm\") }\nkotlin {\n    jvmToolchain(17)\n}\n";
        assert_eq!(
            found(&[("build.gradle.kts", kotlin)], ".", Runtime::Java),
            one("17", "build.gradle.kts", 3, "java.version.gradle")
        );
        let old = "sourceCompatibility = JavaVersion.VERSION_1_8\n";
        assert_eq!(found(&[("build.gradle", old)], ".", Runtime::Java)[0].0, "1.8");
        assert_eq!(found(&[(".java-version", "17.0\n")], ".", Runtime::Java)[0].0, "17.0");
        assert_eq!(
            found(&[(".sdkmanrc", "# sdk\njava=17.0.9-tem\n")], ".", Runtime::Java),
            one("17.0.9-tem", ".sdkmanrc", 2, "java.version.sdkmanrc")
        );
    }

    #[test]
    fn composer_php() {
        let composer = "{\n  \"require\": {\n    \"php\": \"^8.1\",\n    \"laravel/framework\": \"^10.0\"\n  }\n}\n";
        assert_eq!(
            found(&[("composer.json", composer)], ".", Runtime::Php),
            one("^8.1", "composer.json", 3, "php.version.composer")
        );
    }

    #[test]
    fn crlf_and_unicode_do_not_confuse_lines() {
        let pkg = "{\r\n  \"description\": \"caf\u{e9} \u{1f600}\",\r\n  \"engines\": {\r\n    \"node\": \">=20\"\r\n  }\r\n}\r\n";
        assert_eq!(
            found(&[("package.json", pkg)], ".", Runtime::Node),
            one(">=20", "package.json", 4, "node.version.engines")
        );
    }

    #[test]
    fn malformed_manifests_warn_and_continue() {
        let (_d, view) = repo(&[("package.json", "{\n  \"engines\": {\n"), (".nvmrc", "20\n")]);
        let got = constraints(&view, ".", Runtime::Node);
        assert_eq!(got.len(), 1);
        let w = view.warnings();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].file, "package.json");
        assert!(w[0].line.is_some());
    }
}
