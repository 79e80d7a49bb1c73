//! Tests of Countdown: generation against the solver oracle, determinism, and golden rewards
//! (hand-computed for TinyZero, cross-checked against reasoning-gym 0.1.25 for its scheme).

use super::*;

fn cp(numbers: &[u32], target: i64) -> CountdownProblem {
    CountdownProblem {
        numbers: numbers.to_vec(),
        target,
    }
}

#[test]
fn every_generated_problem_is_solvable_by_the_oracle() {
    let mut n = 0;
    for seed in 0..4u64 {
        for count in [3, 4] {
            for index in 0..150u64 {
                let p = generate(seed, index, count, 1000).unwrap();
                assert_eq!(p.numbers.len(), count);
                assert!(p
                    .numbers
                    .iter()
                    .all(|&x| (MIN_NUMBER..=MAX_NUMBER).contains(&x)));
                assert!((1..=1000).contains(&p.target), "{p:?}");
                let eq = solve(&p.numbers, p.target).unwrap_or_else(|| panic!("{p:?}"));
                // The oracle's equation is itself a perfect answer.
                let e = expr::eval(&eq).unwrap();
                assert_eq!(e.value, Ratio::int(i128::from(p.target)), "{eq}");
                assert!(same_multiset(&e.literals, &p.numbers), "{eq}");
                let tagged = format!("<think>hmm</think><answer>{eq}</answer>");
                assert_eq!(score_tiny_zero(&p, &tagged).reward, 1.0, "{eq}");
                assert_eq!(score_reasoning_gym(&p, &tagged).reward, 1.0, "{eq}");
                n += 1;
            }
        }
    }
    assert!(n >= 1000);
}

#[test]
fn generation_is_deterministic_and_index_addressed() {
    let a: Vec<_> = (0..50).map(|i| generate(7, i, 4, 1000).unwrap()).collect();
    let b: Vec<_> = (0..50).map(|i| generate(7, i, 4, 1000).unwrap()).collect();
    assert_eq!(a, b);
    assert_eq!(generate(7, 37, 4, 1000).unwrap(), a[37]);
    assert_ne!(generate(8, 37, 4, 1000).unwrap(), a[37]);
    // Pinned values: the same on every machine, forever (a change here changes every run).
    let p = generate(0, 0, 3, 1000).unwrap();
    assert_eq!((p.numbers.clone(), p.target), (PINNED.0.to_vec(), PINNED.1));
    // Targets vary: not a constant generator.
    let distinct: std::collections::HashSet<i64> = a.iter().map(|p| p.target).collect();
    assert!(distinct.len() > 25, "{distinct:?}");
}

const PINNED: ([u32; 3], i64) = ([92, 99, 19], 172);

#[test]
fn config_is_validated() {
    assert!(generate(0, 0, 1, 1000).is_err());
    assert!(generate(0, 0, 7, 1000).is_err());
    assert!(generate(0, 0, 3, 5).is_err());
    assert!(generate(0, 0, 2, 10).is_ok());
    assert!(generate(0, 0, 6, 1000).is_ok());
}

#[test]
fn solver_finds_and_refuses() {
    assert!(solve(&[95, 3, 4], 23).is_some());
    assert_eq!(solve(&[1, 1], 3), None);
    assert_eq!(solve(&[2, 2], 1).as_deref(), Some("2 / 2"));
    // Needs a fraction on the way: 8 / (3 - 8 / 3) = 24.
    let eq = solve(&[3, 3, 8, 8], 24).unwrap();
    assert_eq!(expr::eval(&eq).unwrap().value, Ratio::int(24), "{eq}");
    assert_eq!(solve(&[], 0), None);
    assert_eq!(solve(&[1; 7], 7), None);
}

#[test]
fn prompt_names_numbers_target_and_tags() {
    let s = prompt(&cp(&[95, 3, 4], 23));
    assert!(s.contains("[95, 3, 4]") && s.contains("equals 23"), "{s}");
    assert!(s.contains("<think> </think>") && s.contains("<answer> (1 + 2) / 3 </answer>"));
}

#[test]
fn tiny_zero_golden_rewards() {
    let p = cp(&[95, 3, 4], 23);
    let cases: &[(&str, f32, Outcome)] = &[
        (
            "<think>..</think><answer>(95-3)/4</answer>",
            1.0,
            Outcome::Correct,
        ),
        ("<answer> (95 - 3) / 4 </answer>", 1.0, Outcome::Correct),
        ("<answer>(95-3)/4.</answer>", 1.0, Outcome::Correct),
        ("<answer>(95-3)/2</answer>", 0.1, Outcome::FormatOnly), // wrong numbers
        ("<answer>(95+3)/4</answer>", 0.1, Outcome::FormatOnly), // wrong value
        ("<answer>95-3-4+4-4</answer>", 0.1, Outcome::FormatOnly), // numbers reused
        ("(95-3)/4", 0.0, Outcome::Empty),                       // no tag
        ("", 0.0, Outcome::Empty),
        ("<answer>(95-3)/4", 0.0, Outcome::Empty), // unclosed
        ("<answer>\n(95-3)/4\n</answer>", 0.0, Outcome::Empty), // `.` does not match `\n`
        ("<answer></answer>", 0.1, Outcome::Unparsable),
        ("<answer>(95-3)/4 = 23</answer>", 0.1, Outcome::Unparsable),
        ("<answer>(95 − 3) / 4</answer>", 0.1, Outcome::Unparsable), // U+2212 minus
        ("<answer>(95-3)/(4-4)</answer>", 0.1, Outcome::Unparsable),
        (
            "<answer>(95-3)/4</answer> <answer>95*3*4</answer>",
            0.1,
            Outcome::FormatOnly,
        ),
        (
            "<answer>95*3*4</answer> <answer>(95-3)/4</answer>",
            1.0,
            Outcome::Correct,
        ),
        (
            "<answer>x</answer>\n<answer>(95-3)/4</answer>",
            1.0,
            Outcome::Correct,
        ),
        // The lazy match runs from the first opening tag to the first closing one.
        (
            "<answer>9 <answer>(95-3)/4</answer>",
            0.1,
            Outcome::Unparsable,
        ),
    ];
    for &(c, reward, outcome) in cases {
        let s = score_tiny_zero(&p, c);
        assert_eq!((s.reward, s.outcome), (reward, outcome), "{c:?}");
        assert_eq!(s.tagged, outcome != Outcome::Empty, "{c:?}");
        let e = score_exact(&p, c);
        assert_eq!(e.reward, if reward == 1.0 { 1.0 } else { 0.0 }, "{c:?}");
        assert_ne!(e.outcome, Outcome::FormatOnly);
    }
}

#[test]
fn reasoning_gym_outcomes() {
    let p = cp(&[95, 3, 4], 23);
    let o = |c: &str| score_reasoning_gym(&p, c).outcome;
    assert_eq!(o("<answer>(95-3)/4</answer>"), Outcome::Correct);
    assert_eq!(o("<answer>95-3-4</answer>"), Outcome::FormatOnly);
    assert_eq!(o("<answer>x</answer>"), Outcome::Unparsable);
    assert_eq!(o("<answer> </answer>"), Outcome::Empty);
    assert_eq!(o("nothing"), Outcome::Empty);
    assert!(!score_reasoning_gym(&p, "nothing").tagged);
    // Lines join inside parentheses, as in Python.
    assert_eq!(o("<answer>(95-3)\n/4</answer>"), Outcome::Unparsable);
    assert_eq!(o("<answer>((95-3)\n/4)</answer>"), Outcome::Correct);
}

/// `(numbers, target, completion, reward)` as reasoning-gym 0.1.25 scored them:
/// `CountdownDataset.score_answer(utils.extract_answer(completion), entry)`, run once outside
/// the test suite (PyPI `reasoning-gym==0.1.25`, sympy 1.14).
const REASONING_GYM_0_1_25: &[(&[u32], i64, &str, f32)] = &[
    (
        &[95, 3, 4],
        23,
        "<think>..</think><answer>(95-3)/4</answer>",
        1.0,
    ),
    (&[95, 3, 4], 23, "<answer>(95-3)/4</answer>", 1.0),
    (&[95, 3, 4], 23, "<answer> (95 - 3) / 4 </answer>", 1.0),
    (&[95, 3, 4], 23, "<answer>\n(95-3)/4\n</answer>", 1.0),
    (&[95, 3, 4], 23, "<answer>95-3-4</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>(95-3)/2</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>95+3+4+1</answer>", 0.05),
    (&[95, 3, 4], 23, "no tag (95-3)/4", 0.01),
    (&[95, 3, 4], 23, "<answer></answer>", 0.01),
    (&[95, 3, 4], 23, "<answer>   </answer>", 0.01),
    (&[95, 3, 4], 23, "<answer>x+1</answer>", 0.01),
    (&[95, 3, 4], 23, "<answer>(95-3)/4 = 23</answer>", 0.01),
    (&[95, 3, 4], 23, "<answer>1/0</answer>", 0.01),
    (&[95, 3, 4], 23, "<answer>(95-3)/4.</answer>", 1.0),
    (
        &[95, 3, 4],
        23,
        "<answer>95*3*4</answer><answer>(95-3)/4</answer>",
        1.0,
    ),
    (
        &[95, 3, 4],
        23,
        "<answer>(95-3)/4</answer><answer>95*3*4</answer>",
        0.05,
    ),
    (&[95, 3, 4], 23, "<answer>(95-3)/(4</answer>", 0.01),
    (&[95, 3, 4], 23, "<answer>(1+2)*3</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>1+2+3</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>1*2*3</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>3*2*1</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>6</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>1+2+3+0</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>(1+2)*3 - 3</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>-(1-2-3)+2</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>10*20*5</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>(99-98)*97</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>99-98+97-97+4</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>7*8+7-7</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>7*8</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>(7+7)*8/2</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>7*(8+7-7)</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>8*7*7/7</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>8 × 7 × 7 / 7</answer>", 0.01),
    (&[95, 3, 4], 23, "<answer>(10+20)*5</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>10*20*5.0</answer>", 0.05),
    (&[95, 3, 4], 23, "<answer>10*20*5<answer>", 0.01),
    (&[1, 2, 3], 6, "<answer></answer>", 0.01),
    (&[1, 2, 3], 6, "<answer>   </answer>", 0.01),
    (&[1, 2, 3], 6, "<answer>x+1</answer>", 0.01),
    (&[1, 2, 3], 6, "<answer>(1+2)*3</answer>", 0.05),
    (&[1, 2, 3], 6, "<answer>1+2+3</answer>", 1.0),
    (&[1, 2, 3], 6, "<answer>1*2*3</answer>", 1.0),
    (&[1, 2, 3], 6, "<answer>3*2*1</answer>", 1.0),
    (&[1, 2, 3], 6, "<answer>(1+2)*3 - 3</answer>", 0.05),
    (&[1, 2, 3], 6, "<answer>-(1-2-3)+2</answer>", 0.05),
    (&[10, 20, 5], 1000, "<answer></answer>", 0.01),
    (&[10, 20, 5], 1000, "<answer>   </answer>", 0.01),
    (&[10, 20, 5], 1000, "<answer>10*20*5</answer>", 1.0),
    (&[10, 20, 5], 1000, "<answer>(10+20)*5</answer>", 0.05),
    (&[10, 20, 5], 1000, "<answer>10*20*5<answer>", 0.01),
    (&[99, 98, 97], 4, "<answer></answer>", 0.01),
    (&[99, 98, 97], 4, "<answer>   </answer>", 0.01),
    (&[99, 98, 97], 4, "<answer>(99-98)*97</answer>", 0.05),
    (&[7, 7, 8], 56, "<answer></answer>", 0.01),
    (&[7, 7, 8], 56, "<answer>   </answer>", 0.01),
    (&[7, 7, 8], 56, "<answer>7*8+7-7</answer>", 0.05),
    (&[7, 7, 8], 56, "<answer>7*8</answer>", 0.05),
    (&[7, 7, 8], 56, "<answer>7*(8+7-7)</answer>", 0.05),
    (&[7, 7, 8], 56, "<answer>8*7*7/7</answer>", 0.05),
    (&[7, 7, 8], 56, "<answer>8 × 7 × 7 / 7</answer>", 0.01),
    (&[1, 2, 3], 6, "<answer>2+4</answer>", 0.05),
    (&[1, 2, 3], 6, "<answer>3 * (2 * 1)</answer>", 1.0),
    (&[1, 2, 3], 6, "<answer>1+2\n+3</answer>", 0.01),
    (
        &[1, 2, 3],
        6,
        "<answer>1+2+3</answer> and then <answer>\n1*2\n</answer>",
        0.05,
    ),
    (
        &[1, 2, 3],
        6,
        "<think>1+2+3=6</think>\n<answer>1+2+3</answer><|im_end|>",
        1.0,
    ),
    (&[1, 2, 3], 6, "<answer>+1+2+3</answer>", 1.0),
    (&[1, 2, 3], 6, "<answer>(3-1)*3</answer>", 0.05),
    (&[1, 2, 3], 6, "<answer>1+2+3+3-3</answer>", 0.05),
    (&[1, 2, 3], 6, "<answer>(1+2+3</answer>", 0.01),
    (&[1, 2, 3], 6, "<answer>1 + 2 + 3 </answer>", 1.0),
    (&[1, 2, 3], 6, "<answer>01+2+3</answer>", 0.01),
    (&[1, 2, 3], 6, "<answer>6/1*... </answer>", 0.01),
    (&[7, 7, 8], 56, "<answer>7*8*7/7</answer>", 0.05),
    (&[7, 7, 8], 63, "<answer>7*8+7</answer>", 1.0),
    (&[7, 7, 8], 63, "<answer>8*7+7</answer>", 1.0),
    (&[7, 7, 8], 63, "<answer>(7*8)+7</answer>", 1.0),
    (&[7, 7, 8], 63, "<answer>7*8+7.5</answer>", 0.05),
    (&[50, 25, 4], 2, "<answer>50/25</answer>", 0.05),
    (&[50, 25, 4], 8, "<answer>50/25*4</answer>", 1.0),
    (&[50, 25, 4], 8, "<answer>50/(25/4)</answer>", 1.0),
    (&[50, 25, 4], 8, "<answer>4/(25/50)</answer>", 1.0),
    (&[50, 25, 4], 8, "<answer>4*(50/25)</answer>", 1.0),
    (&[50, 25, 4], 79, "<answer>50+25+4</answer>", 1.0),
    (&[50, 25, 4], 79, "<answer>50+25+4</answer> final: 79", 1.0),
    (&[50, 25, 4], 79, "<answer>50+25+4=79</answer>", 0.01),
];

#[test]
fn reasoning_gym_golden_rewards() {
    for &(numbers, target, c, reward) in REASONING_GYM_0_1_25 {
        let s = score_reasoning_gym(&cp(numbers, target), c);
        assert_eq!(s.reward, reward, "{numbers:?} {target} {c:?}");
    }
}

#[test]
fn reasoning_gym_known_deviations() {
    // sympy parses these (reasoning-gym gives 0.05: the numbers do not match); `expr` does not.
    let p = cp(&[95, 3, 4], 23);
    assert_eq!(
        score_reasoning_gym(&p, "<answer>2**3</answer>").reward,
        0.01
    );
    assert_eq!(score_reasoning_gym(&p, "<answer>0/0</answer>").reward, 0.01);
}
