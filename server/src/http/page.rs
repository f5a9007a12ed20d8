//! The web page: three files built into the binary, so the server needs nothing beside it.
//! They are sent with `Cache-Control: no-cache` (a browser asks again, so a new server's page
//! is never stale) and `X-Content-Type-Options: nosniff`.

/// A file of the page.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its text.
    pub body: &'static str,
}

/// `/`: the page.
pub static INDEX: Asset =
    Asset { content_type: "text/html; charset=utf-8", body: include_str!("page/index.html") };

/// `/app.js`: the page's script.
pub static APP_JS: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: include_str!("page/app.js") };

/// `/style.css`: the page's style.
pub static STYLE_CSS: Asset =
    Asset { content_type: "text/css; charset=utf-8", body: include_str!("page/style.css") };

/// The asset served at `path`, if any.
pub fn asset(path: &str) -> Option<&'static Asset> {
    match path {
        "/" | "/index.html" => Some(&INDEX),
        "/app.js" => Some(&APP_JS),
        "/style.css" => Some(&STYLE_CSS),
        _ => None,
    }
}
