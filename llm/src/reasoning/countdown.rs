//! Countdown (as in TinyZero): reach a target by combining given numbers, each exactly once,
//! with + − × ÷ and parentheses.
//!
//! Generation is solvable by construction: the target is the value of a random expression tree
//! over all the numbers (÷ only where it divides exactly), kept only when it is a positive
//! integer no larger than `max_target`; otherwise the next attempt of the same counter-based
//! stream is drawn. [`solve`] is a brute-force solver over exact rationals, the tests' oracle.
//!
//! Rewards:
//! - [`score_tiny_zero`]: `verl/utils/reward_score/countdown.py` — the last
//!   `<answer>…</answer>` on one line (none: 0.0); its digit runs must be the numbers as a
//!   multiset, its characters in `[0-9+\-*/().\s]`, and it must evaluate, else 0.1 (the format
//!   score); `|value − target| < 1e-5` gives 1.0, anything else 0.1. Where TinyZero uses
//!   Python's `eval`, [`expr`] is used (it refuses `**` and `//`, which Python would accept).
//! - [`score_reasoning_gym`]: reasoning-gym 0.1.25 `games/countdown.py` `score_answer` after
//!   `utils.extract_answer` (see that function's doc for the cross-checked semantics).
//! - [`score_exact`]: 1.0 when TinyZero would give 1.0, else 0.0.

use super::expr::{self, Ratio};
use super::rng::Rng;
use super::{last_answer_tag, Outcome, Problem, Scored, TaskData};
use crate::error::{LlmError, Result};

/// The smallest number drawn.
pub const MIN_NUMBER: u32 = 1;
/// The largest number drawn.
pub const MAX_NUMBER: u32 = 99;
/// The most numbers a problem may have (the solver is exponential in it).
pub const MAX_COUNT: usize = 6;
/// Draws per problem before giving up (a few suffice at the default bound).
const MAX_ATTEMPTS: u64 = 10_000;
/// Keeps Countdown streams apart from other task families under the same seed.
const FAMILY: u64 = 0xC0_07_D0;

/// One Countdown problem: combine `numbers`, each once, to reach `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountdownProblem {
    /// The numbers to use, each exactly once, in the order shown to the model.
    pub numbers: Vec<u32>,
    /// The value to reach.
    pub target: i64,
}

/// The default largest target.
pub fn default_max_target() -> u32 {
    1000
}

/// Refuses a count or target bound the generator and solver cannot handle.
pub fn validate(count: usize, max_target: u32) -> Result<()> {
    if !(2..=MAX_COUNT).contains(&count) {
        return Err(LlmError::config(
            "numbers",
            format!("Countdown takes 2 to {MAX_COUNT} numbers, not {count}"),
        ));
    }
    if !(10..=1_000_000).contains(&max_target) {
        return Err(LlmError::config(
            "max_target",
            format!("must be in 10..=1000000, not {max_target}"),
        ));
    }
    Ok(())
}

/// Problem `index` of `seed`: `count` numbers in 1..=99 and a reachable target in
/// `1..=max_target`.
pub fn generate(seed: u64, index: u64, count: usize, max_target: u32) -> Result<CountdownProblem> {
    validate(count, max_target)?;
    for attempt in 0..MAX_ATTEMPTS {
        let mut rng = Rng::keyed(seed, FAMILY, index, attempt);
        let numbers: Vec<u32> = (0..count)
            .map(|_| rng.range(i64::from(MIN_NUMBER), i64::from(MAX_NUMBER)) as u32)
            .collect();
        if let Some(target) = random_tree_value(&mut rng, &numbers) {
            if (1..=i64::from(max_target)).contains(&target) {
                return Ok(CountdownProblem { numbers, target });
            }
        }
    }
    Err(LlmError::Data {
        what: format!("countdown problem {index} of seed {seed}"),
        why: format!("no target in 1..={max_target} after {MAX_ATTEMPTS} draws"),
    })
}

/// Folds the numbers into one value by combining random pairs with random operators, which
/// reaches every tree shape; ÷ is offered only when exact. `None` on overflow (not at 1..=99).
fn random_tree_value(rng: &mut Rng, numbers: &[u32]) -> Option<i64> {
    let mut items: Vec<i64> = numbers.iter().map(|&n| i64::from(n)).collect();
    while items.len() > 1 {
        let i = rng.below(items.len() as u64) as usize;
        let a = items.swap_remove(i);
        let j = rng.below(items.len() as u64) as usize;
        let b = items.swap_remove(j);
        let mut ops = vec![b'+', b'-', b'*'];
        if b != 0 && a % b == 0 {
            ops.push(b'/');
        }
        let v = match rng.pick(&ops).copied()? {
            b'+' => a.checked_add(b)?,
            b'-' => a.checked_sub(b)?,
            b'*' => a.checked_mul(b)?,
            _ => a.checked_div(b)?,
        };
        items.push(v);
    }
    items.first().copied()
}

/// The user message: TinyZero-style instructions in this project's words.
pub fn prompt(p: &CountdownProblem) -> String {
    let list: Vec<String> = p.numbers.iter().map(u32::to_string).collect();
    format!(
        "Using the numbers [{}], write an equation that equals {}. You may use + - * / and \
         parentheses, and each number must be used exactly once. Think it through inside \
         <think> </think> tags, then give only the final equation inside <answer> </answer> \
         tags, for example <answer> (1 + 2) / 3 </answer>.",
        list.join(", "),
        p.target
    )
}

/// Problem `index` of `seed` wrapped for [`super::problems`], with a solver-found reference.
pub(crate) fn problem(seed: u64, index: u64, count: usize, max_target: u32) -> Result<Problem> {
    let c = generate(seed, index, count, max_target)?;
    let answer = solve(&c.numbers, c.target).ok_or_else(|| LlmError::Data {
        what: format!("countdown problem {index} of seed {seed}"),
        why: "generated target is not reachable (generator bug)".into(),
    })?;
    Ok(Problem {
        prompt: prompt(&c),
        answer,
        data: TaskData::Countdown(c),
    })
}

/// An equation using every number exactly once that equals `target`, or `None` when there is
/// none (all orders, operators and bracketings, exact rationals). Refuses more than
/// [`MAX_COUNT`] numbers (returns `None`).
pub fn solve(numbers: &[u32], target: i64) -> Option<String> {
    if numbers.is_empty() || numbers.len() > MAX_COUNT {
        return None;
    }
    let goal = Ratio::int(i128::from(target));
    let items: Vec<(Ratio, String, bool)> = numbers
        .iter()
        .map(|&n| (Ratio::int(i128::from(n)), n.to_string(), true))
        .collect();
    search(items, goal)
}

/// Depth-first search; each item is (value, text, whether the text is atomic).
fn search(items: Vec<(Ratio, String, bool)>, goal: Ratio) -> Option<String> {
    if items.len() == 1 {
        return (items[0].0 == goal).then(|| items[0].1.clone());
    }
    let wrap = |t: &(Ratio, String, bool)| {
        if t.2 {
            t.1.clone()
        } else {
            format!("({})", t.1)
        }
    };
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let (a, b) = (&items[i], &items[j]);
            let (sa, sb) = (wrap(a), wrap(b));
            let candidates = [
                (a.0.checked_add(b.0), format!("{sa} + {sb}")),
                (a.0.checked_mul(b.0), format!("{sa} * {sb}")),
                (a.0.checked_sub(b.0), format!("{sa} - {sb}")),
                (b.0.checked_sub(a.0), format!("{sb} - {sa}")),
                (a.0.checked_div(b.0), format!("{sa} / {sb}")),
                (b.0.checked_div(a.0), format!("{sb} / {sa}")),
            ];
            for (v, text) in candidates {
                let Ok(v) = v else { continue };
                let mut rest: Vec<(Ratio, String, bool)> = items
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != i && k != j)
                    .map(|(_, t)| t.clone())
                    .collect();
                rest.push((v, text, false));
                if let Some(s) = search(rest, goal) {
                    return Some(s);
                }
            }
        }
    }
    None
}

/// The ASCII digit runs of `s` as numbers (TinyZero's `re.findall(r'\d+', s)`); a run too long
/// for `u64` becomes `u64::MAX` (it can match no Countdown number either way).
fn digit_runs(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
        .map(|r| r.parse().unwrap_or(u64::MAX))
        .collect()
}

fn same_multiset(found: &[u64], numbers: &[u32]) -> bool {
    let mut a = found.to_vec();
    let mut b: Vec<u64> = numbers.iter().map(|&n| u64::from(n)).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// TinyZero's Countdown reward (see the module doc): 1.0, 0.1 or 0.0.
pub fn score_tiny_zero(p: &CountdownProblem, completion: &str) -> Scored {
    let scored = |reward, outcome| Scored {
        reward,
        outcome,
        tagged: true,
    };
    let Some(raw) = last_answer_tag(completion, false) else {
        return Scored {
            reward: 0.0,
            outcome: Outcome::Empty,
            tagged: false,
        };
    };
    let eq = raw.trim();
    let allowed = |c: char| c.is_ascii_digit() || "+-*/().".contains(c) || c.is_whitespace();
    let parsed = if eq.is_empty() || !eq.chars().all(allowed) {
        None
    } else {
        expr::eval(eq).ok()
    };
    let Some(e) = parsed else {
        return scored(0.1, Outcome::Unparsable);
    };
    if !same_multiset(&digit_runs(eq), &p.numbers) {
        return scored(0.1, Outcome::FormatOnly);
    }
    if (e.value.to_f64() - p.target as f64).abs() < 1e-5 {
        scored(1.0, Outcome::Correct)
    } else {
        scored(0.1, Outcome::FormatOnly)
    }
}

/// Whether a line break sits outside every parenthesis (Python's tokenizer ends the expression
/// there; inside brackets lines join).
fn breaks_python_line(s: &str) -> bool {
    let mut depth = 0i64;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            '\n' | '\r' if depth <= 0 => return true,
            _ => {}
        }
    }
    false
}

/// 1.0 exactly when [`score_tiny_zero`] gives 1.0, else 0.0 (same outcomes, no format reward).
pub fn score_exact(p: &CountdownProblem, completion: &str) -> Scored {
    let s = score_tiny_zero(p, completion);
    let outcome = match s.outcome {
        Outcome::FormatOnly => Outcome::Wrong,
        o => o,
    };
    Scored {
        reward: if outcome == Outcome::Correct {
            1.0
        } else {
            0.0
        },
        outcome,
        tagged: s.tagged,
    }
}

/// reasoning-gym 0.1.25's Countdown reward, `score_answer(extract_answer(completion))`:
/// the last `<answer>…</answer>` (may span lines), stripped; none or blank: 0.01; not an
/// expression: 0.01; its integers (`\b\d+\b`) not the numbers as a multiset: 0.05; value
/// `np.isclose(v, target, atol=1e-6)` (also `rtol=1e-5`): 1.0; else 0.05. Unlike TinyZero, a
/// missing answer earns as much as an unparsable one, and the digit check comes after parsing.
/// sympy's `parse_expr` is replaced by [`expr`] (so `**`, `//` and `!` are unparsable here,
/// and so is any division by zero, where sympy gives 0.05 for a `nan` such as `0/0`); a line
/// break outside parentheses is unparsable, as it is to Python.
pub fn score_reasoning_gym(p: &CountdownProblem, completion: &str) -> Scored {
    let tag = last_answer_tag(completion, true).map(str::trim);
    let tagged = tag.is_some();
    let scored = |reward, outcome| Scored {
        reward,
        outcome,
        tagged,
    };
    let answer = match tag {
        Some(a) if !a.is_empty() => a,
        _ => return scored(0.01, Outcome::Empty),
    };
    if breaks_python_line(answer) {
        return scored(0.01, Outcome::Unparsable);
    }
    let Ok(e) = expr::eval(answer) else {
        return scored(0.01, Outcome::Unparsable);
    };
    if !same_multiset(&e.literals, &p.numbers) {
        return scored(0.05, Outcome::FormatOnly);
    }
    let (v, t) = (e.value.to_f64(), p.target as f64);
    if (v - t).abs() <= 1e-6 + 1e-5 * t.abs() {
        scored(1.0, Outcome::Correct)
    } else {
        scored(0.05, Outcome::FormatOnly)
    }
}

#[cfg(test)]
#[path = "countdown_tests.rs"]
mod tests;
