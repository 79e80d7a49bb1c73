//! A tiny parser and exact evaluator for the arithmetic a model writes as a Countdown answer.
//!
//! Grammar (whitespace anywhere between tokens):
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*
//! unary   := ('+' | '-') unary | primary
//! primary := number | '(' expr ')'
//! number  := digits | digits '.' digits? | '.' digits
//! ```
//!
//! Values are exact rationals ([`Ratio`]: `i128` numerator and positive denominator, always
//! reduced), so `(95 - 3) / 4` is exactly 23 and `1 / 3 * 3` exactly 1. Decimal literals are
//! exact too (`4.` is 4, `2.5` is 5/2) because Python's `eval`, which TinyZero's reward uses,
//! accepts them. The literals reported are the runs of digits (`2.5` gives 2 and 5), as
//! TinyZero's `re.findall(r'\d+', ...)` sees them. Division by zero, arithmetic overflow,
//! nesting deeper than [`MAX_DEPTH`] and anything outside the grammar are errors
//! ([`ExprError`]), never panics: the input is model output. As in Python, an integer literal
//! may not start with `0` (`01` is an error, `0`, `00` and `01.5` are not). Python's `**` and
//! `//` are rejected, and so are the `×` and `÷` signs.

use crate::error::LlmError;
use thiserror::Error;

/// Deepest nesting of parentheses and unary signs accepted (bounds the parser's recursion).
pub const MAX_DEPTH: usize = 64;

/// Why an expression cannot be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ExprError {
    /// A character that is not a digit, operator, parenthesis or whitespace, at this byte offset.
    #[error("unexpected character at byte {0}")]
    BadChar(usize),
    /// The tokens do not follow the grammar (missing operand, unbalanced parenthesis, ...).
    #[error("syntax error at byte {0}")]
    Syntax(usize),
    /// The input holds no expression at all.
    #[error("empty expression")]
    Empty,
    /// A divisor evaluated to zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A literal or an intermediate value does not fit the `i128` rational.
    #[error("arithmetic overflow")]
    Overflow,
    /// Parentheses or unary signs nest deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
}

impl From<ExprError> for LlmError {
    fn from(e: ExprError) -> Self {
        LlmError::Data {
            what: "arithmetic expression".into(),
            why: e.to_string(),
        }
    }
}

/// An exact rational number: `num / den` with `den > 0` and `gcd(num, den) = 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    /// The integer `n` as a rational.
    pub fn int(n: i128) -> Ratio {
        Ratio { num: n, den: 1 }
    }

    /// `num / den`, reduced; errors on a zero denominator or when reducing overflows.
    pub fn new(num: i128, den: i128) -> Result<Ratio, ExprError> {
        if den == 0 {
            return Err(ExprError::DivisionByZero);
        }
        let g = gcd(num.unsigned_abs(), den.unsigned_abs());
        // g ≥ 1 since den ≠ 0; g fits i128 unless both are i128::MIN (then g = 2^127).
        let g = i128::try_from(g).map_err(|_| ExprError::Overflow)?;
        let (mut n, mut d) = (num / g, den / g);
        if d < 0 {
            n = n.checked_neg().ok_or(ExprError::Overflow)?;
            d = d.checked_neg().ok_or(ExprError::Overflow)?;
        }
        Ok(Ratio { num: n, den: d })
    }

    /// The numerator (carries the sign).
    pub fn numer(self) -> i128 {
        self.num
    }

    /// The denominator (always positive).
    pub fn denom(self) -> i128 {
        self.den
    }

    /// The value as an integer when the denominator is 1.
    pub fn as_integer(self) -> Option<i128> {
        (self.den == 1).then_some(self.num)
    }

    /// The nearest `f64` (for tolerance comparisons such as TinyZero's `|v − t| < 1e-5`).
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// `self + o`, or [`ExprError::Overflow`].
    pub fn checked_add(self, o: Ratio) -> Result<Ratio, ExprError> {
        let g = i128::try_from(gcd(self.den.unsigned_abs(), o.den.unsigned_abs()))
            .map_err(|_| ExprError::Overflow)?;
        let (bd, dd) = (self.den / g, o.den / g);
        let a = self.num.checked_mul(dd).ok_or(ExprError::Overflow)?;
        let c = o.num.checked_mul(bd).ok_or(ExprError::Overflow)?;
        let n = a.checked_add(c).ok_or(ExprError::Overflow)?;
        let d = bd.checked_mul(o.den).ok_or(ExprError::Overflow)?;
        Ratio::new(n, d)
    }

    /// `-self`, or [`ExprError::Overflow`].
    pub fn checked_neg(self) -> Result<Ratio, ExprError> {
        Ok(Ratio {
            num: self.num.checked_neg().ok_or(ExprError::Overflow)?,
            den: self.den,
        })
    }

    /// `self - o`, or [`ExprError::Overflow`].
    pub fn checked_sub(self, o: Ratio) -> Result<Ratio, ExprError> {
        self.checked_add(o.checked_neg()?)
    }

    /// `self * o`, or [`ExprError::Overflow`].
    pub fn checked_mul(self, o: Ratio) -> Result<Ratio, ExprError> {
        // Cross-reduce first so that products of reduced fractions stay small.
        let g1 = i128::try_from(gcd(self.num.unsigned_abs(), o.den.unsigned_abs()))
            .map_err(|_| ExprError::Overflow)?
            .max(1);
        let g2 = i128::try_from(gcd(o.num.unsigned_abs(), self.den.unsigned_abs()))
            .map_err(|_| ExprError::Overflow)?
            .max(1);
        let n = (self.num / g1)
            .checked_mul(o.num / g2)
            .ok_or(ExprError::Overflow)?;
        let d = (self.den / g2)
            .checked_mul(o.den / g1)
            .ok_or(ExprError::Overflow)?;
        Ratio::new(n, d)
    }

    /// `self / o`: [`ExprError::DivisionByZero`] when `o` is zero, or [`ExprError::Overflow`].
    pub fn checked_div(self, o: Ratio) -> Result<Ratio, ExprError> {
        if o.num == 0 {
            return Err(ExprError::DivisionByZero);
        }
        self.checked_mul(Ratio::new(o.den, o.num)?)
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// The result of [`eval`]: the exact value and every integer literal, in source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// The exact value of the expression.
    pub value: Ratio,
    /// The runs of digits as written, in order (a multiset: sort it to compare).
    pub literals: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A literal's exact value.
    Num(Ratio),
    Op(u8),
    Open,
    Close,
}

/// Reads the digit run at `bytes[*i..]`: its value and its length.
fn digits(bytes: &[u8], i: &mut usize) -> Result<(u64, u32), ExprError> {
    let (mut v, mut n) = (0u64, 0u32);
    while *i < bytes.len() && bytes[*i].is_ascii_digit() {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(bytes[*i] - b'0')))
            .ok_or(ExprError::Overflow)?;
        *i += 1;
        n += 1;
    }
    Ok((v, n))
}

fn tokenize(src: &str, literals: &mut Vec<u64>) -> Result<Vec<(usize, Tok)>, ExprError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next_is_digit = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        match c {
            b'0'..=b'9' | b'.' if c != b'.' || next_is_digit => {
                let start = i;
                let (int, int_len) = digits(bytes, &mut i)?;
                // Python refuses `01` (but not `0`, `00` or `01.5`); so does this parser.
                if int_len > 1 && c == b'0' && int != 0 && bytes.get(i) != Some(&b'.') {
                    return Err(ExprError::Syntax(start));
                }
                if int_len > 0 {
                    literals.push(int);
                }
                let mut value = Ratio::int(i128::from(int));
                if i < bytes.len() && bytes[i] == b'.' {
                    i += 1;
                    let (frac, frac_len) = digits(bytes, &mut i)?;
                    if frac_len > 0 {
                        literals.push(frac);
                        let scale = 10i128.checked_pow(frac_len).ok_or(ExprError::Overflow)?;
                        value = value.checked_add(Ratio::new(i128::from(frac), scale)?)?;
                    }
                }
                out.push((start, Tok::Num(value)));
                continue;
            }
            b'+' | b'-' | b'*' | b'/' => out.push((i, Tok::Op(c))),
            b'(' => out.push((i, Tok::Open)),
            b')' => out.push((i, Tok::Close)),
            _ if c.is_ascii_whitespace() => {}
            _ => {
                // Unicode whitespace is whitespace too; anything else is foreign.
                let ch = src[i..].chars().next().ok_or(ExprError::BadChar(i))?;
                if !ch.is_whitespace() {
                    return Err(ExprError::BadChar(i));
                }
                i += ch.len_utf8();
                continue;
            }
        }
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).map(|t| t.1)
    }

    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |t| t.0)
    }

    fn expr(&mut self, depth: usize) -> Result<Ratio, ExprError> {
        let mut v = self.term(depth)?;
        while let Some(Tok::Op(op @ (b'+' | b'-'))) = self.peek() {
            self.pos += 1;
            let r = self.term(depth)?;
            v = if op == b'+' {
                v.checked_add(r)?
            } else {
                v.checked_sub(r)?
            };
        }
        Ok(v)
    }

    fn term(&mut self, depth: usize) -> Result<Ratio, ExprError> {
        let mut v = self.unary(depth)?;
        while let Some(Tok::Op(op @ (b'*' | b'/'))) = self.peek() {
            self.pos += 1;
            let r = self.unary(depth)?;
            v = if op == b'*' {
                v.checked_mul(r)?
            } else {
                v.checked_div(r)?
            };
        }
        Ok(v)
    }

    fn unary(&mut self, depth: usize) -> Result<Ratio, ExprError> {
        if depth > MAX_DEPTH {
            return Err(ExprError::TooDeep);
        }
        match self.peek() {
            Some(Tok::Op(b'-')) => {
                self.pos += 1;
                self.unary(depth + 1)?.checked_neg()
            }
            Some(Tok::Op(b'+')) => {
                self.pos += 1;
                self.unary(depth + 1)
            }
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(n)
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let v = self.expr(depth + 1)?;
                if self.peek() != Some(Tok::Close) {
                    return Err(ExprError::Syntax(self.here()));
                }
                self.pos += 1;
                Ok(v)
            }
            _ => Err(ExprError::Syntax(self.here())),
        }
    }
}

/// Parses and evaluates `src` exactly; see the module doc for the grammar and the errors.
pub fn eval(src: &str) -> Result<Evaluated, ExprError> {
    let mut literals = Vec::new();
    let toks = tokenize(src, &mut literals)?;
    if toks.is_empty() {
        return Err(ExprError::Empty);
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end: src.len(),
    };
    let value = p.expr(0)?;
    if p.pos != p.toks.len() {
        return Err(ExprError::Syntax(p.here()));
    }
    Ok(Evaluated { value, literals })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Result<Ratio, ExprError> {
        eval(s).map(|e| e.value)
    }

    fn r(n: i128, d: i128) -> Ratio {
        Ratio::new(n, d).unwrap()
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(v("1 + 2 * 3"), Ok(Ratio::int(7)));
        assert_eq!(v("(1 + 2) * 3"), Ok(Ratio::int(9)));
        assert_eq!(v("10 - 3 - 2"), Ok(Ratio::int(5)));
        assert_eq!(v("100 / 10 / 5"), Ok(Ratio::int(2)));
        assert_eq!(v("2 * 3 + 4 * 5"), Ok(Ratio::int(26)));
        assert_eq!(v("8 - 2 * 3 / 4"), Ok(r(13, 2)));
        assert_eq!(v("(95-3)/4"), Ok(Ratio::int(23)));
        assert_eq!(v("((((7))))"), Ok(Ratio::int(7)));
    }

    #[test]
    fn exact_rationals() {
        assert_eq!(v("1 / 3 * 3"), Ok(Ratio::int(1)));
        assert_eq!(v("1/3 + 1/6"), Ok(r(1, 2)));
        assert_eq!(v("6/4"), Ok(r(3, 2)));
        assert_eq!(v("-6/4"), Ok(r(-3, 2)));
        assert_eq!(r(6, -4), r(-3, 2));
        assert_eq!(r(-3, 2).denom(), 2);
        assert_eq!(r(3, 2).to_string(), "3/2");
        assert_eq!(v("2/3").unwrap().as_integer(), None);
    }

    #[test]
    fn unary_signs() {
        assert_eq!(v("-3 + 5"), Ok(Ratio::int(2)));
        assert_eq!(v("3 - -2"), Ok(Ratio::int(5)));
        assert_eq!(v("--3"), Ok(Ratio::int(3)));
        assert_eq!(v("+4 * -(2 + 1)"), Ok(Ratio::int(-12)));
    }

    #[test]
    fn decimal_literals_are_exact() {
        assert_eq!(v("(95-3)/4."), Ok(Ratio::int(23)));
        assert_eq!(v("1.5 * 2"), Ok(Ratio::int(3)));
        assert_eq!(v(".25 + 0.75"), Ok(Ratio::int(1)));
        assert_eq!(v("2.50"), Ok(r(5, 2)));
        assert_eq!(eval("1.25 + .5 + 4.").unwrap().literals, vec![1, 25, 5, 4]);
        assert_eq!(
            v(&format!("0.{}1", "0".repeat(39))),
            Err(ExprError::Overflow)
        );
    }

    #[test]
    fn literals_are_reported_in_order() {
        let e = eval(" (95 - 3) / 4 ").unwrap();
        assert_eq!(e.literals, vec![95, 3, 4]);
        assert_eq!(eval("-7*-7").unwrap().literals, vec![7, 7]);
    }

    #[test]
    fn errors_not_panics() {
        assert_eq!(v("1/0"), Err(ExprError::DivisionByZero));
        assert_eq!(v("5 / (3 - 3)"), Err(ExprError::DivisionByZero));
        assert_eq!(v(""), Err(ExprError::Empty));
        assert_eq!(v("   "), Err(ExprError::Empty));
        assert_eq!(v("1 +"), Err(ExprError::Syntax(3)));
        assert_eq!(v("(1 + 2"), Err(ExprError::Syntax(6)));
        assert_eq!(v("1 + 2)"), Err(ExprError::Syntax(5)));
        assert_eq!(v("2 3"), Err(ExprError::Syntax(2)));
        assert_eq!(v("2(3)"), Err(ExprError::Syntax(1)));
        assert_eq!(v("()"), Err(ExprError::Syntax(1)));
        assert_eq!(v("2 ** 3"), Err(ExprError::Syntax(3)));
        assert_eq!(v("7 // 2"), Err(ExprError::Syntax(3)));
        assert_eq!(v("1..5"), Err(ExprError::Syntax(2)));
        assert_eq!(v("01 + 2"), Err(ExprError::Syntax(0)));
        assert_eq!(v("3 * 007"), Err(ExprError::Syntax(4)));
        assert_eq!(v("0 + 00 + 01.5 + 10"), Ok(r(23, 2)));
        assert_eq!(v("1.2.3"), Err(ExprError::Syntax(3)));
        assert_eq!(v("."), Err(ExprError::BadChar(0)));
        assert_eq!(v("x + 1"), Err(ExprError::BadChar(0)));
        assert_eq!(v("3 × 4"), Err(ExprError::BadChar(2)));
        assert_eq!(v("1 = 1"), Err(ExprError::BadChar(2)));
        assert_eq!(v("1\u{a0}+\t2\n"), Ok(Ratio::int(3)));
    }

    #[test]
    fn overflow_is_an_error() {
        assert_eq!(v("99999999999999999999999"), Err(ExprError::Overflow));
        let big = "18446744073709551615"; // u64::MAX
        let mut s = big.to_string();
        for _ in 0..3 {
            s = format!("{s} * {big}");
        }
        assert_eq!(v(&s), Err(ExprError::Overflow));
        assert_eq!(v(&format!("{big} * {big}")), Err(ExprError::Overflow)); // 2^128 > i128::MAX
        let i63 = "9223372036854775807"; // 2^63 − 1: its square fits
        assert_eq!(v(&format!("{i63} * {i63}")).map(|_| ()), Ok(()));
        let m = Ratio::int(i128::MIN);
        assert_eq!(m.checked_neg(), Err(ExprError::Overflow));
        assert_eq!(Ratio::new(i128::MIN, i128::MIN), Err(ExprError::Overflow));
        assert_eq!(
            Ratio::int(i128::MAX).checked_add(Ratio::int(1)),
            Err(ExprError::Overflow)
        );
        assert_eq!(
            Ratio::new(1, i128::MAX)
                .unwrap()
                .checked_add(Ratio::new(1, i128::MAX - 1).unwrap()),
            Err(ExprError::Overflow)
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(v(&deep), Err(ExprError::TooDeep));
        assert_eq!(v(&"-".repeat(100_000)), Err(ExprError::TooDeep));
        let ok = format!("{}1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(v(&ok), Ok(Ratio::int(1)));
    }

    #[test]
    fn ratio_ops_agree_with_cross_multiplication() {
        // A small exhaustive property check: a/b op c/d against the textbook formula.
        for a in -6..=6i128 {
            for b in 1..=5i128 {
                for c in -6..=6i128 {
                    for d in 1..=5i128 {
                        let (x, y) = (r(a, b), r(c, d));
                        assert_eq!(x.checked_add(y), Ok(r(a * d + c * b, b * d)));
                        assert_eq!(x.checked_sub(y), Ok(r(a * d - c * b, b * d)));
                        assert_eq!(x.checked_mul(y), Ok(r(a * c, b * d)));
                        if c == 0 {
                            assert_eq!(x.checked_div(y), Err(ExprError::DivisionByZero));
                        } else {
                            assert_eq!(x.checked_div(y), Ok(r(a * d, b * c)));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        // A deterministic fuzz over a tiny alphabet: every string either evaluates or errors.
        let alphabet = b"0123456789+-*/() x.";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(state % 12) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push(alphabet[(state >> 33) as usize % alphabet.len()] as char);
            }
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            let _ = eval(&s);
        }
    }
}
