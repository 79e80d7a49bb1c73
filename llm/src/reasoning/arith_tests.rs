//! Tests of the word problems: answers recomputed from the parameters, ranges, determinism,
//! number extraction and the exact-match reward.

use super::*;

/// The answer of each template, written out again independently of [`Template::answer`].
fn recompute(t: Template, p: &[i64]) -> i64 {
    match (t, p) {
        (Template::PlainAdd | Template::Add, [a, b]) => a + b,
        (Template::PlainSub | Template::Remove, [a, b]) => a - b,
        (Template::PlainMul | Template::Buy | Template::Rate, [a, b]) => a * b,
        (Template::PlainDiv | Template::Share, [a, b]) => {
            assert_eq!(a % b, 0, "{t:?} {p:?} does not divide");
            a / b
        }
        (Template::Change, [m, n, q]) => m - n * q,
        (Template::Groups | Template::Reading, [g, k, e]) => g * k + e,
        (Template::BuyThenShare, [a, b, f]) => {
            assert_eq!((a + b) % f, 0, "{t:?} {p:?} does not divide");
            (a + b) / f
        }
        (Template::TwoPurchases, [a, q, b, r]) => a * q + b * r,
        (Template::Bus, [a, off, on]) => a - off + on,
        _ => panic!("{t:?} has parameters {p:?}"),
    }
}

#[test]
fn answers_match_parameters_and_stay_small() {
    let mut seen = std::collections::HashSet::new();
    for level in [
        ArithLevel::Plain,
        ArithLevel::OneStep,
        ArithLevel::TwoStep,
        ArithLevel::Mixed,
    ] {
        for i in 0..2000 {
            let (p, prompt) = generate(3, i, level);
            seen.insert(p.template);
            assert_eq!(p.answer, recompute(p.template, &p.params), "{p:?}");
            assert!((1..=MAX_ANSWER).contains(&p.answer), "{p:?}");
            assert!(
                p.params.iter().all(|&x| (1..=MAX_OPERAND).contains(&x)),
                "{p:?}"
            );
            // Every parameter is shown to the model.
            for x in &p.params {
                assert!(prompt.contains(&x.to_string()), "{x} missing in {prompt}");
            }
            assert!(prompt.contains("<answer> </answer>"), "{prompt}");
            // A tagged correct answer scores 1.
            let s = score(&p, &format!("so <answer>{}</answer>", p.answer));
            assert_eq!(
                (s.reward, s.outcome, s.tagged),
                (1.0, Outcome::Correct, true)
            );
        }
    }
    assert_eq!(seen.len(), PLAIN.len() + ONE_STEP.len() + TWO_STEP.len());
}

#[test]
fn levels_draw_their_own_templates() {
    for i in 0..200 {
        assert!(PLAIN.contains(&generate(1, i, ArithLevel::Plain).0.template));
        assert!(ONE_STEP.contains(&generate(1, i, ArithLevel::OneStep).0.template));
        assert!(TWO_STEP.contains(&generate(1, i, ArithLevel::TwoStep).0.template));
    }
}

#[test]
fn generation_is_deterministic() {
    let a = generate(11, 5, ArithLevel::Mixed);
    assert_eq!(a, generate(11, 5, ArithLevel::Mixed));
    assert_ne!(a, generate(12, 5, ArithLevel::Mixed));
    assert_ne!(a, generate(11, 6, ArithLevel::Mixed));
}

#[test]
fn last_number_forms() {
    let n = |s: &str| last_number(s).map(|f| f.0);
    assert_eq!(n("the answer is 42"), Some(Some(42)));
    assert_eq!(n("so 3 + 4 = 7."), Some(Some(7)));
    assert_eq!(n("1,234 apples"), Some(Some(1234)));
    assert_eq!(n("total 12,345,678!"), Some(Some(12_345_678)));
    assert_eq!(n("1, 2, 3"), Some(Some(3)));
    assert_eq!(n("1,23"), Some(Some(23)));
    assert_eq!(n("1234,567"), Some(Some(567)));
    assert_eq!(n("it is -5"), Some(Some(-5)));
    assert_eq!(n("(-5)"), Some(Some(-5)));
    assert_eq!(n("10-2"), Some(Some(2)));
    assert_eq!(n("x-2"), Some(Some(2)));
    assert_eq!(n("42.0"), Some(Some(42)));
    assert_eq!(n("42.5"), Some(None));
    assert_eq!(n("$30.00 in all"), Some(Some(30)));
    assert_eq!(n("99999999999999999999"), Some(None));
    assert_eq!(n("no digits"), None);
    assert_eq!(n(""), None);
}

fn sample(answer: i64) -> ArithProblem {
    ArithProblem {
        level: ArithLevel::OneStep,
        template: Template::Add,
        params: vec![answer - 1, 1],
        answer,
    }
}

#[test]
fn exact_match_golden() {
    let p = sample(1234);
    let cases: &[(&str, f32, Outcome, bool)] = &[
        ("12 + 1222 = 1234", 1.0, Outcome::Correct, false),
        ("The answer is 1,234.", 1.0, Outcome::Correct, false),
        ("1234 apples, minus 4", 0.0, Outcome::Wrong, false),
        ("<answer>1234</answer>", 1.0, Outcome::Correct, true),
        (
            "<answer> 1,234 </answer> (I think 1233)",
            1.0,
            Outcome::Correct,
            true,
        ),
        (
            "<answer>1233</answer><answer>1234</answer>",
            1.0,
            Outcome::Correct,
            true,
        ),
        (
            "<answer>1234</answer><answer>1233</answer>",
            0.0,
            Outcome::Wrong,
            true,
        ),
        ("<answer>\n1234\n</answer>", 1.0, Outcome::Correct, true),
        ("<answer>many</answer> 1234", 0.0, Outcome::Unparsable, true),
        ("<answer></answer>", 0.0, Outcome::Empty, true),
        ("I do not know", 0.0, Outcome::Unparsable, false),
        ("  ", 0.0, Outcome::Empty, false),
        ("1234.5", 0.0, Outcome::Wrong, false),
        ("-1234", 0.0, Outcome::Wrong, false),
    ];
    for &(c, reward, outcome, tagged) in cases {
        let s = score(&p, c);
        assert_eq!(
            (s.reward, s.outcome, s.tagged),
            (reward, outcome, tagged),
            "{c:?}"
        );
    }
}
