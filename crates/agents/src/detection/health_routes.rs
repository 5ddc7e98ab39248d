//! Health-check routes an app declares: the path Health probes before `/`.
//!
//! A route declaration is a call whose first argument is the path, in every web framework we
//! detect: `@app.get("/health")` (Flask, FastAPI), `path("healthz/", …)` (Django),
//! `app.get('/health', …)` (Express, Fastify), `r.GET("/health", …)` (Gin, Echo, chi),
//! `http.HandleFunc("GET /healthz", …)` (net/http), `.route("/health", get(…))` (axum),
//! `#[get("/health")]` (actix, Rocket), `@GetMapping("/health")` (Spring), `Route::get('/up', …)`
//! (Laravel), `get "up" => "rails/health#show"` (Rails). Reading the line as text is enough for
//! that shape in every language, so this needs no grammar; Next.js declares routes by file
//! (`app/api/health/route.ts`, `pages/api/health.ts`), read from the path.

/// Paths that serve a health check, most specific first: the first one found is probed.
const HEALTH_PATHS: &[&str] = &[
    "health",
    "healthz",
    "healthcheck",
    "health-check",
    "api/health",
    "api/healthz",
    "api/healthcheck",
    "api/v1/health",
    "_health",
    "livez",
    "readyz",
    "ready",
    "status",
    "api/status",
    "ping",
    "api/ping",
];

/// Calls that declare a route with the path as first argument (the name just before `(`).
const ROUTE_CALLS: &[&str] = &[
    "get",
    "Get",
    "GET",
    "route",
    "Route",
    "api_route",
    "path",
    "re_path",
    "HandleFunc",
    "Handle",
    "HandlerFunc",
    "GetMapping",
    "RequestMapping",
    "resource",
    "head",
    "all",
    "any",
    "Any",
    "match",
];

/// The rank of `path` among [`HEALTH_PATHS`] (lower is preferred), when it is one.
pub fn rank(path: &str) -> Option<usize> {
    let normal = normalise(path)?;
    HEALTH_PATHS.iter().position(|p| *p == normal)
}

/// `"/Health/"` → `health`; `"GET /healthz"` → `healthz`; anything with a parameter or a
/// query is no fixed path.
fn normalise(literal: &str) -> Option<String> {
    let mut path = literal.trim();
    // Go 1.22 patterns carry the method: "GET /healthz".
    if let Some((method, rest)) = path.split_once(' ') {
        if method.chars().all(|c| c.is_ascii_uppercase()) {
            path = rest.trim();
        }
    }
    let path = path.trim_matches('/');
    if path.is_empty() || path.contains([':', '{', '<', '*', '?', ' ', '$']) {
        return None;
    }
    Some(path.to_ascii_lowercase())
}

/// The health routes `source` declares: `(path as served, 1-based line)`, in file order.
pub fn in_source(source: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") || code.starts_with('#') && !code.starts_with("#[") || code.starts_with('*') {
            continue;
        }
        // Rails' own health controller is mounted at whatever path the route names.
        let rails_health = code.contains("rails/health#show");
        for (start, literal) in string_literals(line) {
            let before = line[..start].trim_end();
            let declared = before.strip_suffix('(').map(str::trim_end).is_some_and(|call| {
                let name = call.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("");
                ROUTE_CALLS.contains(&name)
            });
            // Rails: `get "up" => "rails/health#show"`, `get "/health", to: …` (no parentheses).
            let ruby_verb = ["get", "match"].iter().any(|v| before == *v || before.ends_with(&format!(" {v}")));
            // Laravel 11: `->withRouting(…, health: '/up')`.
            let keyed = before.ends_with("health:");
            if !(declared || ruby_verb || keyed) {
                continue;
            }
            if rank(literal).is_some() || ((rails_health || keyed) && normalise(literal).is_some()) {
                let path = normalise(literal).expect("ranked paths are normal");
                out.push((format!("/{path}"), i as u32 + 1));
            }
        }
    }
    out
}

/// A route Next.js declares by its file: `app/api/health/route.ts` and
/// `pages/api/health.ts` (also under `src/`) both serve `/api/health`.
pub fn from_file_path(relative: &str) -> Option<String> {
    let path = relative.strip_prefix("src/").unwrap_or(relative);
    let route = if let Some(rest) = path.strip_prefix("app/") {
        let (dir, file) = rest.rsplit_once('/')?;
        let stem = file.split('.').next()?;
        (stem == "route").then(|| dir.to_owned())?
    } else if let Some(rest) = path.strip_prefix("pages/") {
        let rest = rest.rsplit_once('.').map_or(rest, |(stem, _)| stem);
        rest.strip_suffix("/index").unwrap_or(rest).to_owned()
    } else {
        return None;
    };
    // Route groups `(admin)` are not part of the URL.
    let url: Vec<&str> = route.split('/').filter(|s| !(s.starts_with('(') && s.ends_with(')'))).collect();
    let url = url.join("/");
    rank(&url).map(|_| format!("/{url}"))
}

/// Quoted strings on one line: `(byte offset of the opening quote, content)`.
fn string_literals(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let q = bytes[i];
        if q == b'"' || q == b'\'' || q == b'`' {
            if let Some(len) = line[i + 1..].find(q as char) {
                out.push((i, &line[i + 1..i + 1 + len]));
                i += len + 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(source: &str) -> Vec<String> {
        in_source(source).into_iter().map(|(p, _)| p).collect()
    }

    #[test]
    fn route_declarations_in_each_framework_are_found() {
        let cases = [
            ("@app.get(\"/health\")\ndef health():", "/health"),
            ("@app.route('/healthz', methods=['GET'])", "/healthz"),
            ("@router.get(\"/api/health\", response_model=Status)", "/api/health"),
            ("    path(\"health/\", views.health),", "/health"),
            ("app.get('/health', (req, res) => res.send('ok'));", "/health"),
            ("fastify.get(\"/ping\", async () => 'pong')", "/ping"),
            ("\tr.GET(\"/health\", func(c *gin.Context) {", "/health"),
            ("\thttp.HandleFunc(\"GET /healthz\", healthz)", "/healthz"),
            ("        .route(\"/health\", get(health))", "/health"),
            ("#[get(\"/status\")]\nasync fn status() -> &'static str {", "/status"),
            ("    @GetMapping(\"/health\")", "/health"),
            ("Route::get('/health', fn () => 'ok');", "/health"),
            ("  get \"up\" => \"rails/health#show\", as: :rails_health_check", "/up"),
            ("get '/healthz' do", "/healthz"),
            ("        health: '/up',", "/up"),
        ];
        for (source, want) in cases {
            assert_eq!(paths(source), [want], "{source}");
        }
    }

    #[test]
    fn other_strings_and_routes_are_not_health_routes() {
        for source in [
            "app.get('/', (req, res) => res.send('health'))",
            "logger.info(\"/health\")",
            "// app.get('/health', h)",
            "# @app.get(\"/health\")",
            "app.get('/users/:id', show)",
            "r.GET(\"/health/{component}\", h)",
            "status = \"/status\"",
            "get \"up\" => \"pages#up\"",
        ] {
            assert!(paths(source).is_empty(), "{source}: {:?}", paths(source));
        }
        // Lines are 1-based.
        assert_eq!(in_source("x = 1\n@app.get('/health')\n"), [("/health".to_owned(), 2)]);
    }

    #[test]
    fn nextjs_routes_come_from_file_paths() {
        assert_eq!(from_file_path("app/api/health/route.ts").as_deref(), Some("/api/health"));
        assert_eq!(from_file_path("src/app/(ops)/healthz/route.js").as_deref(), Some("/healthz"));
        assert_eq!(from_file_path("pages/api/health.ts").as_deref(), Some("/api/health"));
        assert_eq!(from_file_path("pages/api/health/index.js").as_deref(), Some("/api/health"));
        assert_eq!(from_file_path("app/api/users/route.ts"), None);
        assert_eq!(from_file_path("app/health/page.tsx"), None, "a page is not a route handler");
        assert_eq!(from_file_path("lib/health.ts"), None);
    }

    #[test]
    fn preference_is_the_table_order() {
        assert!(rank("/health").unwrap() < rank("/status").unwrap());
        assert!(rank("/healthz").unwrap() < rank("/ping").unwrap());
        assert_eq!(rank("/users"), None);
    }
}
