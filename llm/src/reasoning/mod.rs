//! Reasoning tasks with verifiable rewards, for finetuning a pretrained LM by ES.
//!
//! Pure functions, no model code: a [`ReasoningKind`] and a seed give [`problems`] (prompts plus
//! the hidden data needed to check them), and [`score`] turns a model's completion into a reward
//! under a [`RewardScheme`]. Two families:
//!
//! - [`countdown`]: TinyZero's Countdown (combine the given numbers, each once, with + − × ÷ to
//!   reach the target), scored the TinyZero way or the reasoning-gym way.
//! - [`arith`]: arithmetic word problems from this project's own templates (and a plain
//!   "What is 23 + 45?" level), scored by exact match of the final number.
//!
//! Problem `i` is a pure function of `(kind, seed, i)` (a counter-based splitmix64 stream), so
//! shards of a population can generate their own slices. The held-out set is
//! [`held_out_problems`]: the same kind under the seed `seed ^ HELD_OUT_SALT`, never the training
//! seed. Prompts are the user message only; the chat template is the model's business.

pub mod arith;
pub mod countdown;
pub mod expr;
pub(crate) mod rng;

use crate::error::{LlmError, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;

pub use arith::{ArithLevel, ArithProblem};
pub use countdown::CountdownProblem;

/// XOR-ed into the training seed to get the held-out seed (see [`held_out_problems`]).
pub const HELD_OUT_SALT: u64 = 0x5eed_0f4e_1d00_7500;

/// Which task to generate, as it appears in a config (`kind = "countdown"`, `numbers = 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReasoningKind {
    /// Countdown with this many numbers (3 or 4 as in TinyZero; 2 to 6 accepted).
    Countdown {
        /// How many numbers each problem gives.
        numbers: usize,
        /// The largest target generated (targets are integers in `1..=max_target`).
        #[serde(default = "countdown::default_max_target")]
        max_target: u32,
    },
    /// Arithmetic word problems at this level.
    Arith {
        /// Plain sums, one-step or two-step word problems, or a mix of the word problems.
        level: ArithLevel,
    },
}

/// How a completion is turned into a reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardScheme {
    /// TinyZero's Countdown reward: 1.0 correct, 0.1 for any answer tag, 0.0 without one.
    TinyZero,
    /// reasoning-gym's Countdown reward: 1.0 correct, 0.05 wrong, 0.01 unparsable, 0.0 none.
    ReasoningGym,
    /// 1.0 correct, else 0.0 (the arithmetic tasks' reward; Countdown accepts it too).
    ExactMatch,
}

impl ReasoningKind {
    /// Refuses parameters the generators cannot honour.
    pub fn validate(&self) -> Result<()> {
        match *self {
            ReasoningKind::Countdown {
                numbers,
                max_target,
            } => countdown::validate(numbers, max_target),
            ReasoningKind::Arith { .. } => Ok(()),
        }
    }

    /// Refuses a reward scheme this task does not define (TinyZero on word problems, say).
    pub fn check_scheme(&self, scheme: RewardScheme) -> Result<()> {
        let ok = match self {
            ReasoningKind::Countdown { .. } => true,
            ReasoningKind::Arith { .. } => scheme == RewardScheme::ExactMatch,
        };
        if ok {
            Ok(())
        } else {
            Err(LlmError::config(
                "reward",
                format!(
                    "{} is a Countdown reward; {} accepts only exact_match",
                    scheme.name(),
                    self.name()
                ),
            ))
        }
    }

    /// A short name for messages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            ReasoningKind::Countdown { .. } => "countdown",
            ReasoningKind::Arith { .. } => "arith",
        }
    }
}

impl RewardScheme {
    /// The scheme's config name.
    pub fn name(self) -> &'static str {
        match self {
            RewardScheme::TinyZero => "tiny_zero",
            RewardScheme::ReasoningGym => "reasoning_gym",
            RewardScheme::ExactMatch => "exact_match",
        }
    }
}

/// The hidden data of a problem, to check answers against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskData {
    Countdown(CountdownProblem),
    Arith(ArithProblem),
}

/// One generated problem: what the model is asked and how the answer is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The user message (no chat template).
    pub prompt: String,
    /// A human-readable reference answer (one solution equation, or the number).
    pub answer: String,
    pub(crate) data: TaskData,
}

impl Problem {
    /// The Countdown data, when this is a Countdown problem.
    pub fn countdown(&self) -> Option<&CountdownProblem> {
        match &self.data {
            TaskData::Countdown(c) => Some(c),
            TaskData::Arith(_) => None,
        }
    }

    /// The word-problem data, when this is an arithmetic problem.
    pub fn arith(&self) -> Option<&ArithProblem> {
        match &self.data {
            TaskData::Arith(a) => Some(a),
            TaskData::Countdown(_) => None,
        }
    }
}

/// What a completion's answer turned out to be (log their frequencies: a rising
/// [`Outcome::FormatOnly`] share is format reward hacking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The answer is right.
    Correct,
    /// The answer is well-formed but wrong, and the scheme still pays for the format.
    FormatOnly,
    /// The answer is well-formed but wrong, and earns nothing.
    Wrong,
    /// There is an answer, but it cannot be parsed or evaluated.
    Unparsable,
    /// There is no answer at all (no answer tag, or nothing where a number should be).
    Empty,
}

/// A completion's reward and what earned it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The reward under the scheme asked for.
    pub reward: f32,
    /// What the answer turned out to be.
    pub outcome: Outcome,
    /// Whether the answer was read from an `<answer>…</answer>` tag.
    pub tagged: bool,
}

/// Problems `range` of `kind` under `seed`: problem `i` depends only on `(kind, seed, i)`.
pub fn problems(kind: &ReasoningKind, seed: u64, range: Range<u64>) -> Result<Vec<Problem>> {
    kind.validate()?;
    range
        .map(|i| match *kind {
            ReasoningKind::Countdown {
                numbers,
                max_target,
            } => countdown::problem(seed, i, numbers, max_target),
            ReasoningKind::Arith { level } => Ok(arith::problem(seed, i, level)),
        })
        .collect()
}

/// The held-out problems of a training seed: [`problems`] under `seed ^ HELD_OUT_SALT`.
pub fn held_out_problems(
    kind: &ReasoningKind,
    seed: u64,
    range: Range<u64>,
) -> Result<Vec<Problem>> {
    problems(kind, seed ^ HELD_OUT_SALT, range)
}

/// Scores `completion` (the model's text after the prompt) against `problem` under `scheme`;
/// errors only when the scheme does not apply to the problem's kind.
pub fn score(problem: &Problem, completion: &str, scheme: RewardScheme) -> Result<Scored> {
    match &problem.data {
        TaskData::Countdown(c) => Ok(match scheme {
            RewardScheme::TinyZero => countdown::score_tiny_zero(c, completion),
            RewardScheme::ReasoningGym => countdown::score_reasoning_gym(c, completion),
            RewardScheme::ExactMatch => countdown::score_exact(c, completion),
        }),
        TaskData::Arith(a) => {
            ReasoningKind::Arith { level: a.level }.check_scheme(scheme)?;
            Ok(arith::score(a, completion))
        }
    }
}

/// The content of the last `<answer>…</answer>` pair: Python's
/// `re.finditer(r"<answer>(.*?)</answer>", s, flags)` with the last match taken, where
/// `dotall` says whether the content may span lines (`re.DOTALL`). Not stripped.
pub fn last_answer_tag(s: &str, dotall: bool) -> Option<&str> {
    const OPEN: &str = "<answer>";
    const CLOSE: &str = "</answer>";
    let mut pos = 0;
    let mut last = None;
    while let Some(o) = s[pos..].find(OPEN) {
        let start = pos + o + OPEN.len();
        let Some(c) = s[start..].find(CLOSE) else {
            break;
        };
        let content = &s[start..start + c];
        if !dotall && content.contains('\n') {
            // The lazy match cannot cross the newline: retry from the next opening tag.
            pos = pos + o + 1;
            continue;
        }
        last = Some(content);
        pos = start + c + CLOSE.len();
    }
    last
}

#[cfg(test)]
mod tests;
