//! `[engine]` of the pipeline file: where the feature aggregation runs. `local` (the
//! default) reads the input in this process; `ballista` hands the scan, the cleaning rules and
//! the per-customer aggregation to an Apache DataFusion Ballista cluster (feature
//! `distributed`, docs/distributed.md) and grades the customer table it returns here.

use anyhow::{bail, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    #[default]
    Local,
    Ballista,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    #[serde(default)]
    pub kind: EngineKind,
    /// The scheduler, `df://host:port`.
    pub url: Option<String>,
}

/// `[engine]`, checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Engine {
    Local,
    /// A Ballista scheduler: its host and port, as given in `df://host:port`.
    Ballista {
        url: String,
        host: String,
        port: u16,
    },
}

impl RawEngine {
    pub fn check(&self) -> Result<Engine> {
        match (self.kind, &self.url) {
            (EngineKind::Local, None) => Ok(Engine::Local),
            (EngineKind::Local, Some(_)) => {
                bail!("[engine] url is for kind = \"ballista\"; add that or remove the url")
            }
            (EngineKind::Ballista, None) => bail!(
                "[engine] kind = \"ballista\" needs the scheduler's url, e.g. url = \"df://localhost:50050\""
            ),
            (EngineKind::Ballista, Some(url)) => {
                let (host, port) = parse_url(url)?;
                Ok(Engine::Ballista {
                    url: url.clone(),
                    host,
                    port,
                })
            }
        }
    }
}

/// `df://host:port` -> (host, port).
fn parse_url(url: &str) -> Result<(String, u16)> {
    let hint = "write it as df://host:port, e.g. \"df://localhost:50050\"";
    let Some(rest) = url.trim().strip_prefix("df://") else {
        bail!("[engine] url {url:?} does not start with df://; {hint}");
    };
    let rest = rest.trim_end_matches('/');
    let Some((host, port)) = rest.rsplit_once(':') else {
        bail!("[engine] url {url:?} has no port; {hint}");
    };
    let Ok(port) = port.parse::<u16>() else {
        bail!("[engine] url {url:?}: port {port:?} is not a number from 1 to 65535; {hint}");
    };
    if host.is_empty() || port == 0 {
        bail!("[engine] url {url:?} names no host or port; {hint}");
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: EngineKind, url: Option<&str>) -> Result<Engine> {
        RawEngine {
            kind,
            url: url.map(str::to_string),
        }
        .check()
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(check(EngineKind::Local, None).unwrap(), Engine::Local);
        assert_eq!(
            check(EngineKind::Ballista, Some("df://10.0.0.7:50050")).unwrap(),
            Engine::Ballista {
                url: "df://10.0.0.7:50050".into(),
                host: "10.0.0.7".into(),
                port: 50050
            }
        );
        for (url, says) in [
            ("http://h:1", "does not start with df://"),
            ("df://h", "has no port"),
            ("df://h:x", "is not a number"),
            ("df://:50050", "names no host"),
        ] {
            let e = check(EngineKind::Ballista, Some(url))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
        assert!(check(EngineKind::Ballista, None).is_err());
        assert!(check(EngineKind::Local, Some("df://h:1")).is_err());
    }
}
