//! Tokens to [`Query`], by recursive descent, with Lucene's precedence:
//!
//! ```text
//! query   := seq
//! seq     := or+                 juxtaposition is AND, and binds loosest
//! or      := and ("OR" and)*
//! and     := unary ("AND" unary)*
//! unary   := ("NOT" | "-") unary | primary
//! primary := "(" seq ")" | field ":" "(" seq ")" | field ":" value | value
//! ```
//!
//! so `NOT` binds tightest, then `AND`, then `OR`, and `a OR b c` is
//! `(a OR b) AND c` as it always was here.

use super::ast::{Query, Term};
use super::lexer::Token;
use super::q_error;
use crate::error::Result;

/// Deepest nesting of groups (parentheses and `NOT`s) accepted.
pub const MAX_Q_DEPTH: usize = 16;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Parses tokens into a query; `None` when there are none.
pub(crate) fn parse(tokens: Vec<Token>) -> Result<Option<Query>> {
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let query = parser.seq(None)?;
    match parser.peek() {
        None => Ok(Some(query)),
        Some(Token::RParen) => Err(q_error("has a `)` without its `(`")),
        Some(_) => Err(q_error("is malformed")),
    }
}

fn collapse(mut items: Vec<Query>, build: fn(Vec<Query>) -> Query) -> Query {
    if items.len() == 1 {
        items.remove(0)
    } else {
        build(items)
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_Q_DEPTH {
            return Err(q_error(format!(
                "nests groups more than {MAX_Q_DEPTH} deep"
            )));
        }
        Ok(())
    }

    /// Terms side by side, up to `)` or the end.
    fn seq(&mut self, scope: Option<&str>) -> Result<Query> {
        let mut items = Vec::new();
        while !matches!(self.peek(), None | Some(Token::RParen)) {
            if matches!(self.peek(), Some(Token::Or)) {
                return Err(q_error("`OR` must stand between two terms"));
            }
            if matches!(self.peek(), Some(Token::And)) {
                return Err(q_error("`AND` must stand between two terms"));
            }
            items.push(self.or(scope)?);
        }
        if items.is_empty() {
            return Err(q_error("has an empty group `()`"));
        }
        Ok(collapse(items, Query::And))
    }

    fn or(&mut self, scope: Option<&str>) -> Result<Query> {
        let mut items = vec![self.and(scope)?];
        while matches!(self.peek(), Some(Token::Or)) {
            self.pos += 1;
            if matches!(
                self.peek(),
                None | Some(Token::RParen | Token::Or | Token::And)
            ) {
                return Err(q_error("`OR` must stand between two terms"));
            }
            items.push(self.and(scope)?);
        }
        Ok(collapse(items, Query::Or))
    }

    fn and(&mut self, scope: Option<&str>) -> Result<Query> {
        let mut items = vec![self.unary(scope)?];
        while matches!(self.peek(), Some(Token::And)) {
            self.pos += 1;
            if matches!(
                self.peek(),
                None | Some(Token::RParen | Token::Or | Token::And)
            ) {
                return Err(q_error("`AND` must stand between two terms"));
            }
            items.push(self.unary(scope)?);
        }
        Ok(collapse(items, Query::And))
    }

    fn unary(&mut self, scope: Option<&str>) -> Result<Query> {
        match self.peek() {
            Some(Token::Not | Token::Minus) => {
                let keyword = matches!(self.peek(), Some(Token::Not));
                self.pos += 1;
                if matches!(
                    self.peek(),
                    None | Some(Token::RParen | Token::Or | Token::And)
                ) {
                    return Err(q_error(if keyword {
                        "`NOT` must be followed by a term"
                    } else {
                        "`-` must be followed by a term"
                    }));
                }
                self.enter()?;
                let inner = self.unary(scope)?;
                self.depth -= 1;
                Ok(Query::Not(Box::new(inner)))
            }
            _ => self.primary(scope),
        }
    }

    fn group(&mut self, scope: Option<&str>) -> Result<Query> {
        self.enter()?;
        let inner = self.seq(scope)?;
        self.depth -= 1;
        match self.next() {
            Some(Token::RParen) => Ok(inner),
            _ => Err(q_error("has a `(` without its `)`")),
        }
    }

    fn primary(&mut self, scope: Option<&str>) -> Result<Query> {
        match self.next() {
            Some(Token::LParen) => self.group(scope),
            Some(Token::Field(field)) => {
                if let Some(scope) = scope {
                    return Err(q_error(format!(
                        "a field (`{field}:`) inside the field-scoped group `{scope}:(...)` is not supported"
                    )));
                }
                match self.next() {
                    Some(Token::LParen) => {
                        if field == "_exists_" {
                            return Err(q_error("`_exists_` takes one field name, not a group"));
                        }
                        self.group(Some(&field))
                    }
                    Some(Token::Value(term)) => term_query(Some(field), term),
                    _ => Err(q_error("a `field:` needs a value")),
                }
            }
            Some(Token::Value(term)) => term_query(scope.map(str::to_owned), term),
            Some(Token::RParen) => Err(q_error("has a `)` without its `(`")),
            Some(Token::Or) => Err(q_error("`OR` must stand between two terms")),
            Some(Token::And) => Err(q_error("`AND` must stand between two terms")),
            _ => Err(q_error("is malformed")),
        }
    }
}

fn term_query(field: Option<String>, term: Term) -> Result<Query> {
    match (field, term) {
        (Some(field), Term::Exact(name)) if field == "_exists_" => Ok(Query::Exists(name)),
        (Some(field), _) if field == "_exists_" => Err(q_error("`_exists_` takes a field name")),
        (None, Term::Range { .. }) => Err(q_error("a range needs a field (`field:[a TO b]`)")),
        (None, Term::Compare(..)) => Err(q_error("a comparison needs a field (`field:>v`)")),
        (field, term) => Ok(Query::Term { field, term }),
    }
}
