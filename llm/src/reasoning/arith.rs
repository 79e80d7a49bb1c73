//! Arithmetic word problems from this project's own templates, scored by exact match.
//!
//! Three levels, from easiest: [`ArithLevel::Plain`] ("What is 23 + 45?"), one-step word
//! problems (buying, sharing, adding, removing, rates) and two-step ones (change after a
//! purchase, groups plus extras, ...). Every number in a question is at most [`MAX_OPERAND`]
//! and every answer is a positive integer no larger than [`MAX_ANSWER`]: sized for a 135M
//! model. Each problem keeps its template and
//! parameters, so tests recompute the answer independently.
//!
//! Reward ([`score`]): the last number of the completion, or of the last `<answer>…</answer>`
//! when there is one, must equal the answer (1.0, else 0.0). Numbers may carry a leading `-`,
//! commas between groups of three digits and a trailing `.`; `42.0` counts as 42.

use super::rng::Rng;
use super::{last_answer_tag, Outcome, Problem, Scored, TaskData};
use serde::{Deserialize, Serialize};

/// The largest operand a template draws.
pub const MAX_OPERAND: i64 = 50;
/// The largest answer any template produces.
pub const MAX_ANSWER: i64 = 1000;
/// Keeps these streams apart from other task families under the same seed.
const FAMILY: u64 = 0xA417;

/// How hard the problems are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArithLevel {
    /// One operation written as symbols: "What is 23 + 45?".
    Plain,
    /// One-step word problems.
    OneStep,
    /// Two-step word problems.
    TwoStep,
    /// One-step and two-step word problems, half each.
    Mixed,
}

/// The templates; the parameter order of each is documented on its variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    /// `[a, b]`: a + b.
    PlainAdd,
    /// `[a, b]`: a − b.
    PlainSub,
    /// `[a, b]`: a × b.
    PlainMul,
    /// `[a, b]`: a ÷ b.
    PlainDiv,
    /// `[count, price]`: buying `count` items at `price` each.
    Buy,
    /// `[total, friends]`: sharing `total` equally among `friends`.
    Share,
    /// `[have, found]`: adding.
    Add,
    /// `[had, gave]`: removing.
    Remove,
    /// `[rate, hours]`: a rate over time.
    Rate,
    /// `[money, count, price]`: change left after buying.
    Change,
    /// `[boxes, per_box, loose]`: equal groups plus extras.
    Groups,
    /// `[have, bought, friends]`: adding, then sharing equally.
    BuyThenShare,
    /// `[count_a, price_a, count_b, price_b]`: two purchases.
    TwoPurchases,
    /// `[aboard, off, on]`: people getting off and on.
    Bus,
    /// `[per_day, days, extra]`: a rate plus a one-off.
    Reading,
}

impl Template {
    /// The answer computed from the parameters.
    pub fn answer(self, p: &[i64]) -> Option<i64> {
        let g = |i: usize| p.get(i).copied();
        Some(match self {
            Template::PlainAdd | Template::Add => g(0)? + g(1)?,
            Template::PlainSub | Template::Remove => g(0)? - g(1)?,
            Template::PlainMul | Template::Buy | Template::Rate => g(0)? * g(1)?,
            Template::PlainDiv | Template::Share => g(0)?.checked_div(g(1)?)?,
            Template::Change => g(0)? - g(1)? * g(2)?,
            Template::Groups | Template::Reading => g(0)? * g(1)? + g(2)?,
            Template::BuyThenShare => (g(0)? + g(1)?).checked_div(g(2)?)?,
            Template::TwoPurchases => g(0)? * g(1)? + g(2)? * g(3)?,
            Template::Bus => g(0)? - g(1)? + g(2)?,
        })
    }
}

const PLAIN: [Template; 4] = [
    Template::PlainAdd,
    Template::PlainSub,
    Template::PlainMul,
    Template::PlainDiv,
];
const ONE_STEP: [Template; 5] = [
    Template::Buy,
    Template::Share,
    Template::Add,
    Template::Remove,
    Template::Rate,
];
const TWO_STEP: [Template; 6] = [
    Template::Change,
    Template::Groups,
    Template::BuyThenShare,
    Template::TwoPurchases,
    Template::Bus,
    Template::Reading,
];

const NAMES: [&str; 16] = [
    "Ana", "Ben", "Carla", "Dev", "Eva", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kim", "Leo",
    "Maya", "Noor", "Omar", "Priya",
];
/// (singular, plural) of things people buy.
const GOODS: [(&str, &str); 8] = [
    ("apple", "apples"),
    ("pencil", "pencils"),
    ("notebook", "notebooks"),
    ("sticker", "stickers"),
    ("cookie", "cookies"),
    ("toy car", "toy cars"),
    ("book", "books"),
    ("ticket", "tickets"),
];
/// Things people collect, count and share.
const THINGS: [&str; 8] = [
    "marbles", "stamps", "shells", "cards", "beads", "coins", "grapes", "candies",
];
/// (machine, product) pairs for rates.
const MACHINES: [(&str, &str); 4] = [
    ("A bakery oven", "loaves of bread"),
    ("A printer", "pages"),
    ("A factory machine", "bottles"),
    ("A robot", "boxes"),
];

/// One word problem: its level, template, parameters and answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArithProblem {
    /// The level it was drawn for.
    pub level: ArithLevel,
    /// The template used.
    pub template: Template,
    /// The template's parameters (see [`Template`]).
    pub params: Vec<i64>,
    /// The answer, a positive integer.
    pub answer: i64,
}

/// Draws the parameters and the text of `template`.
fn draw(rng: &mut Rng, template: Template) -> (Vec<i64>, String) {
    let name = rng.pick(&NAMES).copied().unwrap_or("Ana");
    let other = {
        let o = rng.pick(&NAMES).copied().unwrap_or("Ben");
        if o == name {
            "a friend"
        } else {
            o
        }
    };
    let (item, items) = rng.pick(&GOODS).copied().unwrap_or(("apple", "apples"));
    let things = rng.pick(&THINGS).copied().unwrap_or("marbles");
    let (machine, product) = rng.pick(&MACHINES).copied().unwrap_or(("A robot", "boxes"));
    let mut r = |lo: i64, hi: i64| rng.range(lo, hi);
    match template {
        Template::PlainAdd => {
            let (a, b) = (r(1, 50), r(1, 50));
            (vec![a, b], format!("What is {a} + {b}?"))
        }
        Template::PlainSub => {
            let b = r(1, 49);
            let a = r(b + 1, 50);
            (vec![a, b], format!("What is {a} - {b}?"))
        }
        Template::PlainMul => {
            let (a, b) = (r(2, 20), r(2, 20));
            (vec![a, b], format!("What is {a} * {b}?"))
        }
        Template::PlainDiv => {
            let b = r(2, 9);
            let q = r(2, MAX_OPERAND / b);
            (vec![q * b, b], format!("What is {} / {b}?", q * b))
        }
        Template::Buy => {
            let (n, p) = (r(2, 12), r(2, 20));
            let text = format!(
                "{name} buys {n} {items}. Each {item} costs {p} dollars. \
                 How many dollars does {name} spend?"
            );
            (vec![n, p], text)
        }
        Template::Share => {
            let f = r(2, 8);
            let t = f * r(2, MAX_OPERAND / f);
            let text = format!(
                "{name} has {t} {things} and shares them equally among {f} friends. \
                 How many {things} does each friend get?"
            );
            (vec![t, f], text)
        }
        Template::Add => {
            let (a, b) = (r(5, 50), r(2, 50));
            let text = format!(
                "{name} has {a} {things}. {other} gives {name} {b} more. \
                 How many {things} does {name} have now?"
            );
            (vec![a, b], text)
        }
        Template::Remove => {
            let b = r(2, 40);
            let a = r(b + 1, 50);
            let text = format!(
                "{name} had {a} {things} and gave {b} of them to {other}. \
                 How many {things} does {name} have left?"
            );
            (vec![a, b], text)
        }
        Template::Rate => {
            let (rate, h) = (r(3, 30), r(2, 10));
            let text = format!(
                "{machine} makes {rate} {product} every hour. \
                 How many {product} does it make in {h} hours?"
            );
            (vec![rate, h], text)
        }
        Template::Change => {
            let (n, p) = (r(2, 8), r(2, 6));
            let m = r(n * p + 1, 50);
            let text = format!(
                "{name} has {m} dollars and buys {n} {items} that cost {p} dollars each. \
                 How many dollars does {name} have left?"
            );
            (vec![m, n, p], text)
        }
        Template::Groups => {
            let (g, k, e) = (r(2, 12), r(2, 12), r(1, 20));
            let text = format!(
                "There are {g} bags with {k} {things} in each bag, and {e} more {things} \
                 on the table. How many {things} are there in all?"
            );
            (vec![g, k, e], text)
        }
        Template::BuyThenShare => {
            let (q, f) = (r(2, 10), r(2, 5));
            let total = q * f;
            let b = r(1, total - 1);
            let a = total - b;
            let text = format!(
                "{name} has {a} {things} and gets {b} more. Then {name} shares all of them \
                 equally among {f} friends. How many {things} does each friend get?"
            );
            (vec![a, b, f], text)
        }
        Template::TwoPurchases => {
            let (a, p, b, q) = (r(2, 6), r(2, 10), r(2, 6), r(2, 10));
            let text = format!(
                "{name} buys {a} {items} for {p} dollars each and {b} bottles of juice for \
                 {q} dollars each. How many dollars does {name} spend in total?"
            );
            (vec![a, p, b, q], text)
        }
        Template::Bus => {
            let a = r(10, 50);
            let (off, on) = (r(1, a - 1), r(1, 30));
            let text = format!(
                "A bus has {a} passengers. At the next stop {off} people get off and {on} \
                 people get on. How many passengers are on the bus now?"
            );
            (vec![a, off, on], text)
        }
        Template::Reading => {
            let (per, d, e) = (r(5, 30), r(2, 7), r(1, 30));
            let text = format!(
                "{name} reads {per} pages every day for {d} days and then {e} more pages. \
                 How many pages does {name} read in all?"
            );
            (vec![per, d, e], text)
        }
    }
}

/// The instruction appended to every question.
const INSTRUCTION: &str =
    "Think step by step, then give the final answer as a number inside <answer> </answer> tags.";

/// Problem `index` of `seed` at `level` (a pure function of the three).
pub fn generate(seed: u64, index: u64, level: ArithLevel) -> (ArithProblem, String) {
    let mut rng = Rng::keyed(seed, FAMILY, index, 0);
    let family: &[Template] = match level {
        ArithLevel::Plain => &PLAIN,
        ArithLevel::OneStep => &ONE_STEP,
        ArithLevel::TwoStep => &TWO_STEP,
        ArithLevel::Mixed => {
            if rng.below(2) == 0 {
                &ONE_STEP
            } else {
                &TWO_STEP
            }
        }
    };
    let template = rng.pick(family).copied().unwrap_or(Template::PlainAdd);
    let (params, question) = draw(&mut rng, template);
    // Every template's draw keeps the answer a positive integer; 0 would flag a template bug
    // (and the tests check every template's range).
    let answer = template.answer(&params).unwrap_or(0);
    let problem = ArithProblem {
        level,
        template,
        params,
        answer,
    };
    (problem, format!("{question} {INSTRUCTION}"))
}

/// Problem `index` of `seed` wrapped for [`super::problems`].
pub(crate) fn problem(seed: u64, index: u64, level: ArithLevel) -> Problem {
    let (a, prompt) = generate(seed, index, level);
    Problem {
        prompt,
        answer: a.answer.to_string(),
        data: TaskData::Arith(a),
    }
}

/// A number found in text: its integer value, or `None` when it has a non-zero fraction or
/// does not fit `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundNumber(pub Option<i64>);

/// The last number in `s` (see the module doc for the forms read), or `None` when there is no
/// digit at all. A `-` is a sign only when it does not follow a letter, digit or `)` (so
/// `10-2` reads 10 and 2).
pub fn last_number(s: &str) -> Option<FoundNumber> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut last = None;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let negative = start > 0
            && b[start - 1] == b'-'
            && !(start > 1 && (b[start - 2].is_ascii_alphanumeric() || b[start - 2] == b')'));
        let mut digits = String::new();
        while i < b.len() && b[i].is_ascii_digit() {
            digits.push(b[i] as char);
            i += 1;
        }
        // Thousands groups: ",ddd" not followed by a further digit, after 1–3 leading digits.
        if digits.len() <= 3 {
            while i + 3 < b.len()
                && b[i] == b','
                && b[i + 1..i + 4].iter().all(u8::is_ascii_digit)
                && !b.get(i + 4).is_some_and(u8::is_ascii_digit)
            {
                digits.extend(b[i + 1..i + 4].iter().map(|&c| c as char));
                i += 4;
            }
        }
        let mut whole = true;
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                whole &= b[i] == b'0';
                i += 1;
            }
        }
        let value = if whole {
            digits
                .parse::<i64>()
                .ok()
                .map(|v| if negative { -v } else { v })
        } else {
            None
        };
        last = Some(FoundNumber(value));
    }
    last
}

/// Exact-match reward: 1.0 when the last number (of the last answer tag if any) is the answer.
pub fn score(p: &ArithProblem, completion: &str) -> Scored {
    let tag = last_answer_tag(completion, true);
    let tagged = tag.is_some();
    let text = tag.unwrap_or(completion);
    let (reward, outcome) = match last_number(text) {
        Some(FoundNumber(Some(v))) if v == p.answer => (1.0, Outcome::Correct),
        Some(FoundNumber(Some(_))) => (0.0, Outcome::Wrong),
        Some(FoundNumber(None)) => (0.0, Outcome::Wrong),
        None if text.trim().is_empty() => (0.0, Outcome::Empty),
        None => (0.0, Outcome::Unparsable),
    };
    Scored {
        reward,
        outcome,
        tagged,
    }
}

#[cfg(test)]
#[path = "arith_tests.rs"]
mod tests;
