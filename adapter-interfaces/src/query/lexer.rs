//! Splits `q` into tokens: parentheses, `AND`/`OR`/`NOT`, `-`, `field:`
//! and values (words, phrases, wildcards, ranges, v2 comparisons).
//!
//! Every Lucene construct this project does not implement is rejected here
//! by name (fuzzy `~`, boosts `^`, `?` wildcards, regular expressions,
//! `+`, `!`, `&&`, `||`), so that nothing is silently read as a literal.

use super::ast::{Bound, Term};
use super::{CompareOp, MAX_Q_TERMS, q_error};
use crate::error::Result;

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// `-` directly before a term or group.
    Minus,
    /// `name:`; a value or `(` follows directly.
    Field(String),
    /// A value.
    Value(Term),
}

/// A character of a bare word and whether it was backslash-escaped.
type Char = (char, bool);

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    tokens: Vec<Token>,
    values: usize,
}

/// Tokenizes `q`.
pub(crate) fn tokenize(q: &str) -> Result<Vec<Token>> {
    let mut lexer = Lexer {
        chars: q.chars().collect(),
        pos: 0,
        tokens: Vec::new(),
        values: 0,
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')'
}

fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn push_value(&mut self, term: Term) -> Result<()> {
        self.values += 1;
        if self.values > MAX_Q_TERMS {
            return Err(q_error(format!("has more than {MAX_Q_TERMS} terms")));
        }
        self.tokens.push(Token::Value(term));
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        loop {
            while self.peek().is_some_and(char::is_whitespace) {
                self.pos += 1;
            }
            let Some(c) = self.peek() else {
                return Ok(());
            };
            match c {
                '(' => {
                    self.pos += 1;
                    self.tokens.push(Token::LParen);
                }
                ')' => {
                    self.pos += 1;
                    self.tokens.push(Token::RParen);
                }
                '-' => {
                    self.pos += 1;
                    if self.peek().is_none_or(char::is_whitespace) {
                        return Err(q_error("`-` must be followed by a term"));
                    }
                    self.tokens.push(Token::Minus);
                }
                '+' => {
                    return Err(q_error(
                        "the `+` (required) operator is not supported: terms are required by default",
                    ));
                }
                '!' => return Err(q_error("`!` is not supported: use `NOT`")),
                '&' if self.peek_at(1) == Some('&') => {
                    return Err(q_error("`&&` is not supported: use `AND`"));
                }
                '|' if self.peek_at(1) == Some('|') => {
                    return Err(q_error("`||` is not supported: use `OR`"));
                }
                _ => self.bare()?,
            }
        }
    }

    /// A term outside a field's value: a keyword, `field:`+value, or a bare value.
    fn bare(&mut self) -> Result<()> {
        // `field:` prefix?
        let start = self.pos;
        let mut end = start;
        while self.chars.get(end).copied().is_some_and(is_field_char) {
            end += 1;
        }
        if end > start && self.chars.get(end) == Some(&':') {
            let field: String = self.chars[start..end].iter().collect();
            self.pos = end + 1;
            self.tokens.push(Token::Field(field));
            return self.field_value();
        }
        if let Some(keyword) = self.keyword() {
            self.tokens.push(keyword);
            return Ok(());
        }
        self.value()
    }

    fn keyword(&mut self) -> Option<Token> {
        for (word, token) in [("AND", Token::And), ("OR", Token::Or), ("NOT", Token::Not)] {
            let len = word.len();
            let matches = self
                .chars
                .get(self.pos..self.pos + len)
                .is_some_and(|s| s.iter().copied().eq(word.chars()));
            if matches && self.chars.get(self.pos + len).is_none_or(|c| ends_word(*c)) {
                self.pos += len;
                return Some(token);
            }
        }
        None
    }

    /// What follows `field:`.
    fn field_value(&mut self) -> Result<()> {
        match self.peek() {
            None => Err(q_error("a `field:` needs a value")),
            Some(c) if c.is_whitespace() => {
                Err(q_error("a `field:` needs a value right after the colon"))
            }
            Some('(') => Ok(()), // a field-scoped group: the parser takes it from here
            Some(')') => Err(q_error("a `field:` needs a value")),
            _ => self.value(),
        }
    }

    /// A value: phrase, range, comparison, or word (with wildcards).
    fn value(&mut self) -> Result<()> {
        match self.peek() {
            Some('"') => {
                let text = self.phrase()?;
                self.after_value()?;
                self.push_value(Term::Exact(text))
            }
            Some('[' | '{') => {
                let term = self.range()?;
                self.after_value()?;
                self.push_value(term)
            }
            Some('>' | '<') => {
                let op = if self.peek() == Some('>') {
                    CompareOp::Gt
                } else {
                    CompareOp::Lt
                };
                self.pos += 1;
                let op = if self.peek() == Some('=') {
                    self.pos += 1;
                    match op {
                        CompareOp::Gt => CompareOp::Ge,
                        _ => CompareOp::Le,
                    }
                } else {
                    op
                };
                let text = if self.peek() == Some('"') {
                    let text = self.phrase()?;
                    self.after_value()?;
                    text
                } else {
                    let word = self.word(false)?;
                    if word.is_empty() {
                        return Err(q_error("a comparison needs a value (`field:>v`)"));
                    }
                    if word.iter().any(|&(c, escaped)| c == '*' && !escaped) {
                        return Err(q_error("a comparison takes no wildcard"));
                    }
                    word.into_iter().map(|(c, _)| c).collect()
                };
                self.push_value(Term::Compare(op, text))
            }
            Some('/') => Err(q_error("regular expressions (`/.../`) are not supported")),
            _ => {
                let word = self.word(true)?;
                let term = wildcard_term(word)?;
                self.push_value(term)
            }
        }
    }

    /// Checks what may follow a phrase or a range.
    fn after_value(&self) -> Result<()> {
        match self.peek() {
            None | Some(')') => Ok(()),
            Some(c) if c.is_whitespace() => Ok(()),
            Some('~') => Err(q_error(
                "fuzzy and proximity searches (`~`) are not supported",
            )),
            Some('^') => Err(q_error("boosting (`^`) is not supported")),
            Some(_) => Err(q_error("a closing quote must be followed by a space")),
        }
    }

    /// A `"phrase"`, with backslash escapes; the cursor is on the opening quote.
    fn phrase(&mut self) -> Result<String> {
        self.pos += 1;
        let mut text = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '"' => return Ok(text),
                '\\' => match self.peek() {
                    Some(escaped) => {
                        self.pos += 1;
                        text.push(escaped);
                    }
                    None => break,
                },
                c => text.push(c),
            }
        }
        Err(q_error("has an unterminated quote"))
    }

    /// A bare word up to whitespace or a parenthesis (or, in a range, a
    /// closing bracket). Unescaped special characters this project does not
    /// implement are errors; `*` is returned unescaped for the caller.
    fn word(&mut self, top: bool) -> Result<Vec<Char>> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            if ends_word(c) || (!top && matches!(c, ']' | '}')) {
                break;
            }
            self.pos += 1;
            match c {
                '\\' => match self.peek() {
                    Some(escaped) => {
                        self.pos += 1;
                        out.push((escaped, true));
                    }
                    None => return Err(q_error("ends with a lone backslash")),
                },
                '"' => return Err(q_error("quotes must enclose a whole value")),
                '?' => {
                    return Err(q_error(
                        "the single-character wildcard `?` is not supported (escape it: `\\?`)",
                    ));
                }
                '~' => {
                    return Err(q_error(
                        "fuzzy and proximity searches (`~`) are not supported",
                    ));
                }
                '^' => return Err(q_error("boosting (`^`) is not supported")),
                '[' | ']' | '{' | '}' => {
                    return Err(q_error(format!(
                        "`{c}` must be escaped (`\\{c}`) inside a value; ranges are `field:[a TO b]`"
                    )));
                }
                '!' => return Err(q_error("`!` is not supported: use `NOT`, or escape it")),
                c => out.push((c, false)),
            }
        }
        Ok(out)
    }

    /// `[a TO b]`, `{a TO b}` or mixed, `*` for an open end.
    fn range(&mut self) -> Result<Term> {
        let inclusive_lower = self.peek() == Some('[');
        self.pos += 1;
        let malformed =
            || q_error("a range is `[a TO b]`, `{a TO b}` or mixed, `*` for an open end");
        self.skip_spaces();
        let lower = self.range_end()?;
        if !self.peek().is_some_and(char::is_whitespace) {
            return Err(malformed());
        }
        self.skip_spaces();
        if self.keyword_to() {
            self.pos += 2;
        } else {
            return Err(malformed());
        }
        if !self.peek().is_some_and(char::is_whitespace) {
            return Err(malformed());
        }
        self.skip_spaces();
        let upper = self.range_end()?;
        self.skip_spaces();
        let inclusive_upper = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            _ => return Err(malformed()),
        };
        self.pos += 1;
        let bound = |end: Option<String>, inclusive: bool| match end {
            None => Bound::Open,
            Some(v) if inclusive => Bound::Inclusive(v),
            Some(v) => Bound::Exclusive(v),
        };
        Ok(Term::Range {
            lower: bound(lower, inclusive_lower),
            upper: bound(upper, inclusive_upper),
        })
    }

    fn keyword_to(&self) -> bool {
        self.peek() == Some('T') && self.peek_at(1) == Some('O')
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// One end of a range: `None` for `*`.
    fn range_end(&mut self) -> Result<Option<String>> {
        if self.peek() == Some('"') {
            return self.phrase().map(Some);
        }
        let word = self.word(false)?;
        if word.is_empty() {
            return Err(q_error(
                "a range is `[a TO b]`, `{a TO b}` or mixed, `*` for an open end",
            ));
        }
        if word == [('*', false)] {
            return Ok(None);
        }
        if word.iter().any(|&(c, escaped)| c == '*' && !escaped) {
            return Err(q_error("a range end takes no wildcard (only `*` alone)"));
        }
        Ok(Some(word.into_iter().map(|(c, _)| c).collect()))
    }
}

/// Classifies a bare word by its unescaped `*`s: exact, `prefix*` or `*suffix`.
fn wildcard_term(word: Vec<Char>) -> Result<Term> {
    let stars: Vec<usize> = word
        .iter()
        .enumerate()
        .filter(|(_, (c, escaped))| *c == '*' && !escaped)
        .map(|(i, _)| i)
        .collect();
    let text = |chars: &[Char]| chars.iter().map(|(c, _)| *c).collect::<String>();
    let last = word.len().saturating_sub(1);
    match stars.as_slice() {
        [] => Ok(Term::Exact(text(&word))),
        [_] if word.len() == 1 => Err(q_error("a lone `*` is not supported: use `_exists_:field`")),
        [i] if *i == last => Ok(Term::Prefix(text(&word[..last]))),
        // Auth0's rule: a suffix search needs at least three characters.
        [0] if word.len() < 4 => Err(q_error(
            "a suffix wildcard needs at least 3 characters after `*`, as in Auth0 (`*usa`, not `*sa`)",
        )),
        [0] => Ok(Term::Suffix(text(&word[1..]))),
        [0, j] if *j == last => Err(q_error(
            "infix searches (`*text*`) are not supported: a wildcard goes at the start or the end",
        )),
        _ => Err(q_error(
            "a wildcard `*` may stand only at the start (`*smith`) or the end (`john*`) of a value",
        )),
    }
}
