//! Static bearer tokens (`--token-auth-file`): kube's CSV, one `token,user,uid[,"g1,g2"]` per
//! line, read as Go's `encoding/csv` reads it (quoted fields, `""` for a quote inside one,
//! blank lines skipped).
//!
//! Tokens are kept only as SHA-256 digests, and a request's token is looked up by its digest:
//! the lookup's timing depends on the digest, which says nothing usable about the token.

use std::collections::HashMap;

use kubesim_api::user::UserInfo;

use crate::{Authenticated, ConfigError, Method, add_authenticated_group};

type Digest = [u8; 32];

/// The users of a token file, by the digest of their token.
pub struct StaticTokens {
    users: HashMap<Digest, StaticUser>,
}

struct StaticUser {
    user: UserInfo,
    /// The line of the file, so a log can say which entry matched without the token.
    line: usize,
}

impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticTokens")
            .field("tokens", &self.users.len())
            .finish()
    }
}

impl StaticTokens {
    /// Parses the file's text. Fewer than three columns, an empty token or user, or broken
    /// quoting is an error naming the line. A token that appears twice keeps its last line,
    /// with a warning, as kube does.
    pub fn parse(csv: &str) -> Result<Self, ConfigError> {
        let mut users = HashMap::new();
        for record in records(csv)? {
            let (line, user, token) = static_user(record)?;
            let digest = digest(&token);
            if users.insert(digest, StaticUser { user, line }).is_some() {
                tracing::warn!(
                    line,
                    "--token-auth-file: duplicate token; the last one is used"
                );
            }
        }
        Ok(StaticTokens { users })
    }

    /// The user of `token`, or `None` when the file does not have it (another
    /// authenticator may).
    pub fn authenticate(&self, token: &str) -> Option<Authenticated> {
        let found = self.users.get(&digest(token))?;
        Some(Authenticated {
            user: add_authenticated_group(found.user.clone()),
            method: Method::StaticToken,
            detail: format!(
                "token-file: token of user {} (line {} of --token-auth-file)",
                found.user.username, found.line
            ),
            audiences: Vec::new(),
        })
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

fn digest(token: &str) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// One record's user: `(line, user, token)`.
fn static_user(record: Record) -> Result<(usize, UserInfo, String), ConfigError> {
    let line = record.line;
    let mut fields = record.fields.into_iter();
    let (Some(token), Some(username), Some(uid)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(ConfigError(format!(
            "--token-auth-file line {line}: needs at least 3 columns (token, user name, user uid)"
        )));
    };
    if token.is_empty() {
        return Err(ConfigError(format!(
            "--token-auth-file line {line}: empty token"
        )));
    }
    if username.is_empty() {
        return Err(ConfigError(format!(
            "--token-auth-file line {line}: empty user name"
        )));
    }
    // kube splits the fourth column on commas; empty pieces name no group.
    let groups = fields
        .next()
        .map(|g| {
            g.split(',')
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let user = UserInfo {
        username,
        uid,
        groups,
        ..UserInfo::default()
    };
    Ok((line, user, token))
}

/// A CSV record and the line it starts on (1-based).
#[derive(Debug, PartialEq, Eq)]
struct Record {
    line: usize,
    fields: Vec<String>,
}

/// Splits `text` into records as Go's `encoding/csv` does with its defaults.
fn records(text: &str) -> Result<Vec<Record>, ConfigError> {
    let mut parser = CsvParser {
        chars: text.chars().filter(|c| *c != '\r').peekable(),
        line: 1,
    };
    let mut records = Vec::new();
    while let Some(record) = parser.record()? {
        records.push(record);
    }
    Ok(records)
}

struct CsvParser<I: Iterator<Item = char>> {
    chars: std::iter::Peekable<I>,
    line: usize,
}

impl<I: Iterator<Item = char>> CsvParser<I> {
    /// The next record; blank lines are skipped. `None` at the end of the text.
    fn record(&mut self) -> Result<Option<Record>, ConfigError> {
        while self.chars.peek() == Some(&'\n') {
            self.chars.next();
            self.line += 1;
        }
        if self.chars.peek().is_none() {
            return Ok(None);
        }
        let line = self.line;
        let mut fields = Vec::new();
        loop {
            let (field, end) = if self.chars.peek() == Some(&'"') {
                self.chars.next();
                self.quoted_field(line)?
            } else {
                self.plain_field(line)?
            };
            fields.push(field);
            if end {
                return Ok(Some(Record { line, fields }));
            }
        }
    }

    /// An unquoted field; `true` when it ended its record.
    fn plain_field(&mut self, line: usize) -> Result<(String, bool), ConfigError> {
        let mut field = String::new();
        for c in self.chars.by_ref() {
            match c {
                ',' => return Ok((field, false)),
                '\n' => {
                    self.line += 1;
                    return Ok((field, true));
                }
                '"' => return Err(bare_quote(line)),
                c => field.push(c),
            }
        }
        Ok((field, true))
    }

    /// A quoted field after its opening quote; it may span lines.
    fn quoted_field(&mut self, line: usize) -> Result<(String, bool), ConfigError> {
        let mut field = String::new();
        loop {
            match self.chars.next() {
                None => return Err(unterminated_quote(line)),
                Some('"') => match self.chars.next() {
                    Some('"') => field.push('"'),
                    Some(',') => return Ok((field, false)),
                    Some('\n') => {
                        self.line += 1;
                        return Ok((field, true));
                    }
                    None => return Ok((field, true)),
                    Some(_) => return Err(unterminated_quote(line)),
                },
                Some(c) => {
                    if c == '\n' {
                        self.line += 1;
                    }
                    field.push(c);
                }
            }
        }
    }
}

fn bare_quote(line: usize) -> ConfigError {
    ConfigError(format!(
        "--token-auth-file line {line}: bare \" in non-quoted field"
    ))
}

fn unterminated_quote(line: usize) -> ConfigError {
    ConfigError(format!(
        "--token-auth-file line {line}: extraneous or missing \" in quoted field"
    ))
}

#[cfg(test)]
mod tests {
    use kubesim_api::user::ALL_AUTHENTICATED;

    use super::*;

    const FILE: &str = "\
31ada4fd-adec-460c-809a-9e56ceb75269,jane,42,\"dev,ops\"

token-2,bob,43
\"token,3\",\"car\"\"l\",44,\"\"\r\n";

    fn fields(text: &str) -> Vec<Record> {
        records(text).unwrap()
    }

    fn record(line: usize, fields: &[&str]) -> Record {
        let fields = fields.iter().map(|f| f.to_string()).collect();
        Record { line, fields }
    }

    #[test]
    fn csv_is_read_as_go_reads_it() {
        assert_eq!(
            fields(FILE),
            [
                record(
                    1,
                    &[
                        "31ada4fd-adec-460c-809a-9e56ceb75269",
                        "jane",
                        "42",
                        "dev,ops"
                    ]
                ),
                record(3, &["token-2", "bob", "43"]),
                record(4, &["token,3", "car\"l", "44", ""]),
            ]
        );
        assert_eq!(
            fields("a,\"multi\nline\",c\nd,e,f"),
            [
                record(1, &["a", "multi\nline", "c"]),
                record(3, &["d", "e", "f"])
            ]
        );
        assert_eq!(fields(" a , b ,c"), [record(1, &[" a ", " b ", "c"])]);
    }

    #[test]
    fn each_token_is_its_user() {
        let tokens = StaticTokens::parse(FILE).unwrap();
        assert_eq!(tokens.len(), 3);
        let jane = tokens
            .authenticate("31ada4fd-adec-460c-809a-9e56ceb75269")
            .unwrap();
        assert_eq!(jane.user.username, "jane");
        assert_eq!(jane.user.uid, "42");
        assert_eq!(jane.user.groups, ["dev", "ops", ALL_AUTHENTICATED]);
        assert_eq!(jane.method, Method::StaticToken);
        assert_eq!(
            jane.detail,
            "token-file: token of user jane (line 1 of --token-auth-file)"
        );
        let bob = tokens.authenticate("token-2").unwrap();
        assert_eq!(bob.user.username, "bob");
        assert_eq!(bob.user.groups, [ALL_AUTHENTICATED]);
        let carl = tokens.authenticate("token,3").unwrap();
        assert_eq!(carl.user.username, "car\"l");
        assert_eq!(carl.user.groups, [ALL_AUTHENTICATED]);
    }

    #[test]
    fn unknown_token_is_no_opinion() {
        let tokens = StaticTokens::parse(FILE).unwrap();
        assert_eq!(tokens.authenticate("token-3"), None);
        assert_eq!(tokens.authenticate(""), None);
        assert_eq!(tokens.authenticate("token-2 "), None);
    }

    #[test]
    fn duplicate_token_keeps_the_last_line() {
        let tokens = StaticTokens::parse("t,first,1\nt,second,2\n").unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens.authenticate("t").unwrap().user.username, "second");
    }

    #[test]
    fn bad_lines_are_config_errors_naming_the_line() {
        let cases = [
            (
                "t,u,1\nt2,u2\n",
                "--token-auth-file line 2: needs at least 3 columns (token, user name, user uid)",
            ),
            ("\n\n,u,1", "--token-auth-file line 3: empty token"),
            ("t,,1", "--token-auth-file line 1: empty user name"),
            (
                "t,u\"x,1",
                "--token-auth-file line 1: bare \" in non-quoted field",
            ),
            (
                "t,\"u\"x,1",
                "--token-auth-file line 1: extraneous or missing \" in quoted field",
            ),
            (
                "t,u,1\nt2,\"u2,1",
                "--token-auth-file line 2: extraneous or missing \" in quoted field",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(
                StaticTokens::parse(text).unwrap_err(),
                ConfigError(message.to_string()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_a_token() {
        let tokens = StaticTokens::parse(FILE).unwrap();
        assert_eq!(format!("{tokens:?}"), "StaticTokens { tokens: 3 }");
    }
}
