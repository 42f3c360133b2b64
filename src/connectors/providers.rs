//! AI providers are configured, not hard-coded: `PROVIDERS_FILE` names a TOML file with one
//! `[providers.NAME]` table each (see providers.example.toml).

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RedirectMode {
    /// The provider redirects to this server's `/connectors/oauth/callback`.
    #[default]
    Callback,
    /// The provider shows `code#state` to the user, who pastes it into our page.
    Paste,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthStyle {
    /// `Authorization: Bearer <token or key>`.
    #[default]
    Bearer,
    /// `x-api-key: <key>` (Anthropic's API keys).
    XApiKey,
}

#[derive(Clone, Deserialize)]
pub struct Provider {
    #[serde(skip)]
    pub name: String,
    pub display_name: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub api_base_url: String,
    #[serde(default)]
    pub auth_style: AuthStyle,
    /// How API keys (not OAuth tokens) are sent, when it differs.
    pub api_key_auth_style: Option<AuthStyle>,
    #[serde(default)]
    pub extra_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub redirect_mode: RedirectMode,
    /// In paste mode, the provider's own page that shows the code.
    pub paste_redirect_uri: Option<String>,
    /// What this provider's API keys start with, to catch a key pasted in the wrong place.
    pub api_key_prefix: Option<String>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("api_base_url", &self.api_base_url)
            .finish_non_exhaustive()
    }
}

impl Provider {
    pub fn title(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }

    pub fn supports_oauth(&self) -> bool {
        self.authorization_url.is_some() && self.token_url.is_some() && self.client_id.is_some()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Providers(pub BTreeMap<String, Provider>);

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    providers: BTreeMap<String, Provider>,
}

impl Providers {
    pub fn parse(text: &str) -> Result<Providers, String> {
        let file: File = toml::from_str(text).map_err(|e| format!("providers file: {e}"))?;
        let mut out = BTreeMap::new();
        for (name, mut provider) in file.providers {
            provider.name = name.clone();
            for url in [
                &provider.authorization_url,
                &provider.token_url,
                &Some(provider.api_base_url.clone()),
            ]
            .into_iter()
            .flatten()
            {
                url::Url::parse(url).map_err(|_| {
                    format!("providers file: provider {name}: `{url}` is not a URL")
                })?;
            }
            if provider.redirect_mode == RedirectMode::Paste
                && provider.paste_redirect_uri.is_none()
            {
                return Err(format!(
                    "providers file: provider {name} uses paste mode but has no paste_redirect_uri"
                ));
            }
            out.insert(name, provider);
        }
        Ok(Providers(out))
    }

    pub fn load(path: Option<&str>) -> Result<Providers, String> {
        match path {
            None => Ok(Providers::default()),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("PROVIDERS_FILE {path}: {e}"))?;
                Providers::parse(&text)
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.0.get(name)
    }

    pub fn oauth(&self) -> impl Iterator<Item = &Provider> {
        self.0.values().filter(|p| p.supports_oauth())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses() {
        let providers = Providers::parse(include_str!("../../providers.example.toml")).unwrap();
        assert!(providers.get("anthropic").is_some());
        assert!(providers.oauth().count() >= 1);
    }
}
