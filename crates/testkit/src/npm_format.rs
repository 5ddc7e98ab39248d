//! The on-disk format of a static npm registry, shared by its writer (`cargo xtask
//! npm-registry`) and its server ([`crate::NpmRegistry`]), so the two cannot disagree.
//!
//! Under the registry directory:
//! - `<name>/index.json`: the packument npm asks for at `/<name>` (a scoped `@scope/pkg` is two
//!   directories, and npm asks for it as `/@scope%2fpkg`);
//! - `<name>/-/<basename>-<version>.tgz`: one tarball per version, its files under `package/`.
//!
//! Tarball URLs in packuments begin with [`BASE_PLACEHOLDER`]: the server's port is known only
//! when it starts, and it puts its own address there when it serves the document.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha512};

/// Stands for `http://127.0.0.1:<port>` in stored packuments.
pub const BASE_PLACEHOLDER: &str = "http://REGISTRY_BASE";

/// A packument's file name inside its package's directory.
pub const PACKUMENT_FILE: &str = "index.json";

/// npm's own fixed tarball mtime (1985-10-26): tarballs do not change when rebuilt.
const FIXED_MTIME: u64 = 499_162_500;

/// Whether `name` is a package name this format can hold: `pkg` or `@scope/pkg`, each part a
/// plain file name (no `.`/`..`, no separators other than the scope's one slash).
pub fn valid_name(name: &str) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    };
    match name.strip_prefix('@').map(|rest| rest.split_once('/')) {
        Some(Some((scope, pkg))) => part_ok(scope) && part_ok(pkg),
        Some(None) => false,
        None => part_ok(name),
    }
}

/// Whether `version` can be part of a file name: semver's characters, not starting with `.`.
fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && !version.starts_with('.')
        && version.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'+' | b'_'))
}

/// Where the packument of `name` is stored.
pub fn packument_path(registry: &Path, name: &str) -> PathBuf {
    registry.join(name).join(PACKUMENT_FILE)
}

/// The tarball's path inside the registry, which is also its URL path: `express/-/express-4.18.2.tgz`,
/// `@types/node/-/node-18.0.0.tgz` (npm's own convention).
pub fn tarball_rel_path(name: &str, version: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    format!("{name}/-/{base}-{version}.tgz")
}

/// One file of a package version: its path inside the package (`/`-separated, no `package/`
/// prefix) and where its bytes are read from.
#[derive(Debug, Clone)]
pub struct PackageFile {
    pub path: String,
    pub source: PathBuf,
}

/// One version of a package: the manifest (its `package.json`, which also becomes the version's
/// entry in the packument) and the other files of the package.
#[derive(Debug, Clone)]
pub struct PackageVersion {
    pub manifest: Map<String, Value>,
    pub files: Vec<PackageFile>,
}

impl PackageVersion {
    /// The manifest's `version`.
    pub fn version(&self) -> Option<&str> {
        self.manifest.get("version").and_then(Value::as_str)
    }
}

/// Writes `name`'s tarballs and its packument (`dist-tags.latest` = `latest`). The manifest is
/// written as the tarball's `package.json` (a `package.json` in `files` is ignored), so what
/// npm resolves from the packument and what it unpacks agree. Returns the tarballs' total size.
pub fn write_package(registry: &Path, name: &str, versions: &[PackageVersion], latest: &str) -> io::Result<u64> {
    if !valid_name(name) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("not a package name: {name:?}")));
    }
    let mut entries = Map::new();
    let mut bytes = 0;
    for version in versions {
        let v = version
            .version()
            .filter(|v| valid_version(v))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{name}: a version is missing")))?;
        let rel = tarball_rel_path(name, v);
        let path = registry.join(&rel);
        std::fs::create_dir_all(path.parent().expect("a tarball path has a parent"))?;
        let digest = write_tarball(&path, version)?;
        bytes += digest.size;
        let mut manifest = version.manifest.clone();
        manifest.insert("name".into(), name.into());
        manifest.insert("_id".into(), format!("{name}@{v}").into());
        manifest.insert(
            "dist".into(),
            json!({
                "tarball": format!("{BASE_PLACEHOLDER}/{rel}"),
                "integrity": format!("sha512-{}", base64(&digest.sha512)),
                "shasum": hex(&digest.sha1),
            }),
        );
        entries.insert(v.to_owned(), Value::Object(manifest));
    }
    let packument = json!({ "name": name, "dist-tags": { "latest": latest }, "versions": entries });
    let path = packument_path(registry, name);
    std::fs::create_dir_all(path.parent().expect("a packument path has a parent"))?;
    std::fs::write(&path, serde_json::to_vec(&packument)?)?;
    Ok(bytes)
}

struct Digests {
    sha512: Vec<u8>,
    sha1: Vec<u8>,
    size: u64,
}

/// A `.tgz` of the version's files under `package/`, in path order, with fixed times and owners,
/// hashed as it is written.
fn write_tarball(path: &Path, version: &PackageVersion) -> io::Result<Digests> {
    let out =
        HashingWriter { inner: BufWriter::new(File::create(path)?), sha512: Sha512::new(), sha1: Sha1::new(), size: 0 };
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let manifest = serde_json::to_vec_pretty(&version.manifest)?;
    tar.append_data(&mut header(manifest.len() as u64, false), "package/package.json", manifest.as_slice())?;
    let mut files: Vec<&PackageFile> = version.files.iter().filter(|f| f.path != "package.json").collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for file in files {
        let meta = std::fs::metadata(&file.source)?;
        let executable = {
            use std::os::unix::fs::PermissionsExt;
            meta.permissions().mode() & 0o111 != 0
        };
        let mut header = header(meta.len(), executable);
        tar.append_data(&mut header, format!("package/{}", file.path), File::open(&file.source)?)?;
    }
    let mut out = tar.into_inner()?.finish()?;
    out.inner.flush()?;
    Ok(Digests { sha512: out.sha512.finalize().to_vec(), sha1: out.sha1.finalize().to_vec(), size: out.size })
}

fn header(size: u64, executable: bool) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(if executable { 0o755 } else { 0o644 });
    header.set_mtime(FIXED_MTIME);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

/// Counts and hashes what passes through to the file.
struct HashingWriter<W> {
    inner: W,
    sha512: Sha512,
    sha1: Sha1,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha512.update(&buf[..n]);
        self.sha1.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding (RFC 4648), as Subresource Integrity strings use.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn names_and_paths() {
        for ok in ["express", "@types/node", "lodash.debounce", "JSONStream", "@babel/code-frame"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "..", ".bin", "a/b", "@scope", "@scope/", "@/x", "a b", "@s/../x", "a\\b"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(tarball_rel_path("@types/node", "18.0.0"), "@types/node/-/node-18.0.0.tgz");
        assert_eq!(tarball_rel_path("pg", "8.8.0"), "pg/-/pg-8.8.0.tgz");
        assert_eq!(packument_path(Path::new("/r"), "@types/node"), Path::new("/r/@types/node/index.json"));
    }

    #[test]
    fn writes_a_packument_and_a_tarball_that_match() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("index.js");
        std::fs::write(&src, "module.exports = 42;\n").unwrap();
        let manifest = json!({"name": "answer", "version": "1.0.0", "main": "index.js"});
        let version = PackageVersion {
            manifest: manifest.as_object().unwrap().clone(),
            files: vec![PackageFile { path: "index.js".into(), source: src }],
        };
        let registry = dir.path().join("registry");
        write_package(&registry, "answer", &[version], "1.0.0").unwrap();

        let doc: Value = serde_json::from_slice(&std::fs::read(packument_path(&registry, "answer")).unwrap()).unwrap();
        assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
        let dist = &doc["versions"]["1.0.0"]["dist"];
        assert_eq!(dist["tarball"], format!("{BASE_PLACEHOLDER}/answer/-/answer-1.0.0.tgz"));
        let tgz = std::fs::read(registry.join("answer/-/answer-1.0.0.tgz")).unwrap();
        assert_eq!(dist["integrity"], format!("sha512-{}", base64(&Sha512::digest(&tgz))));
        assert_eq!(dist["shasum"], hex(&Sha1::digest(&tgz)));

        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz.as_slice()));
        let paths: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(paths, ["package/package.json", "package/index.js"]);
    }
}
