//! Scopes as types: a route asks for a `Scope`, a token holds a `ScopeSet`. Strings appear only
//! at the edges (parsing a request, writing a token).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read the library (every GET).
    Read,
    /// Create, change and delete in the library.
    Write,
    /// Manage AI-provider connectors.
    Connectors,
    /// Everything: read, write and connectors.
    All,
}

impl Scope {
    /// The scopes this server advertises, in the order it lists them.
    pub const SUPPORTED: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Connectors, Scope::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Connectors => "connectors",
            Scope::All => "all",
        }
    }

    /// Parses one scope; `read-only` is the seed's name for `read`. Unknown names are `None`.
    pub fn parse(name: &str) -> Option<Scope> {
        match name {
            "read" | "read-only" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "connectors" => Some(Scope::Connectors),
            "all" => Some(Scope::All),
            _ => None,
        }
    }

    /// Plain words for the consent page.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::Read => "See your books, reading sessions and statistics",
            Scope::Write => "Add, change and delete books and reading sessions",
            Scope::Connectors => "Manage your AI-provider connections and use them on your behalf",
            Scope::All => {
                "Full access: read and change your library and manage your AI-provider connections"
            }
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes a token holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut list: Vec<Scope> = scopes.into_iter().collect();
        list.sort();
        list.dedup();
        ScopeSet(list)
    }

    pub fn all() -> Self {
        ScopeSet(vec![Scope::All])
    }

    /// Parses a space-separated scope string, ignoring names this server does not know
    /// (clients ask for things like `offline_access`).
    pub fn parse_lenient(text: &str) -> Self {
        ScopeSet::new(text.split_whitespace().filter_map(Scope::parse))
    }

    /// Whether a token with these scopes may do what `needed` guards. `all` covers everything.
    pub fn allows(&self, needed: Scope) -> bool {
        self.0
            .iter()
            .any(|&held| held == needed || held == Scope::All)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Whether every scope of `self` is covered by `other`.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|&s| other.allows(s))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_covers_everything_and_aliases_parse() {
        let all = ScopeSet::parse_lenient("all");
        for scope in Scope::SUPPORTED {
            assert!(all.allows(scope));
        }
        let read = ScopeSet::parse_lenient("read-only offline_access");
        assert_eq!(read.to_string(), "read");
        assert!(read.allows(Scope::Read));
        assert!(!read.allows(Scope::Write));
        assert!(!read.allows(Scope::Connectors));
    }
}
