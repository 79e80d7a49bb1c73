//! Tests of the common API: determinism by index, held-out sets, scheme checks, config parsing.

use super::*;

const COUNTDOWN: ReasoningKind = ReasoningKind::Countdown {
    numbers: 4,
    max_target: 1000,
};
const WORDS: ReasoningKind = ReasoningKind::Arith {
    level: ArithLevel::Mixed,
};

#[test]
fn problem_i_does_not_depend_on_the_range() {
    for kind in [COUNTDOWN, WORDS] {
        let all = problems(&kind, 42, 0..40).unwrap();
        assert_eq!(all.len(), 40);
        assert_eq!(problems(&kind, 42, 17..23).unwrap(), all[17..23].to_vec());
        assert_eq!(problems(&kind, 42, 39..40).unwrap()[0], all[39]);
        assert_eq!(problems(&kind, 42, 0..40).unwrap(), all);
        assert!(problems(&kind, 42, 5..5).unwrap().is_empty());
    }
}

#[test]
fn held_out_set_differs_from_training() {
    for kind in [COUNTDOWN, WORDS] {
        let train = problems(&kind, 1, 0..100).unwrap();
        let held = held_out_problems(&kind, 1, 0..100).unwrap();
        assert_eq!(held, problems(&kind, 1 ^ HELD_OUT_SALT, 0..100).unwrap());
        let shared = train.iter().filter(|p| held.contains(p)).count();
        assert!(shared < 5, "{shared} problems shared");
    }
}

#[test]
fn reference_answers_score_full_marks() {
    for p in problems(&COUNTDOWN, 9, 0..50).unwrap() {
        let c = format!("<think>..</think><answer>{}</answer>", p.answer);
        for scheme in [
            RewardScheme::TinyZero,
            RewardScheme::ReasoningGym,
            RewardScheme::ExactMatch,
        ] {
            assert_eq!(score(&p, &c, scheme).unwrap().reward, 1.0, "{}", p.answer);
        }
        assert!(p.countdown().is_some() && p.arith().is_none());
    }
    for p in problems(&WORDS, 9, 0..50).unwrap() {
        let c = format!("<answer>{}</answer>", p.answer);
        assert_eq!(score(&p, &c, RewardScheme::ExactMatch).unwrap().reward, 1.0);
        assert!(p.arith().is_some() && p.countdown().is_none());
    }
}

#[test]
fn mismatched_scheme_is_refused() {
    let p = &problems(&WORDS, 0, 0..1).unwrap()[0];
    let e = score(p, "<answer>1</answer>", RewardScheme::TinyZero).unwrap_err();
    assert!(e.to_string().contains("exact_match"), "{e}");
    assert!(WORDS.check_scheme(RewardScheme::ReasoningGym).is_err());
    assert!(WORDS.check_scheme(RewardScheme::ExactMatch).is_ok());
    assert!(COUNTDOWN.check_scheme(RewardScheme::TinyZero).is_ok());
}

#[test]
fn bad_config_is_refused() {
    let bad = ReasoningKind::Countdown {
        numbers: 9,
        max_target: 1000,
    };
    let e = problems(&bad, 0, 0..1).unwrap_err();
    assert!(e.to_string().contains("numbers"), "{e}");
}

#[test]
fn kinds_and_schemes_read_from_toml() {
    #[derive(Deserialize)]
    struct Cfg {
        task: ReasoningKind,
        reward: RewardScheme,
    }
    let c: Cfg =
        toml::from_str("reward = \"tiny_zero\"\n[task]\nkind = \"countdown\"\nnumbers = 3\n")
            .unwrap();
    assert_eq!(
        c.task,
        ReasoningKind::Countdown {
            numbers: 3,
            max_target: 1000
        }
    );
    assert_eq!(c.reward, RewardScheme::TinyZero);
    let c: Cfg = toml::from_str(
        "reward = \"exact_match\"\n[task]\nkind = \"arith\"\nlevel = \"two_step\"\n",
    )
    .unwrap();
    assert_eq!(
        c.task,
        ReasoningKind::Arith {
            level: ArithLevel::TwoStep
        }
    );
    assert!(toml::from_str::<Cfg>("reward = \"tiny_zero\"\n[task]\nkind = \"chess\"\n").is_err());
}

#[test]
fn last_answer_tag_matches_python_regex() {
    assert_eq!(
        last_answer_tag("<answer>a</answer><answer>b</answer>", false),
        Some("b")
    );
    assert_eq!(last_answer_tag("<answer>a\nb</answer>", false), None);
    assert_eq!(last_answer_tag("<answer>a\nb</answer>", true), Some("a\nb"));
    assert_eq!(
        last_answer_tag("<answer>a\n<answer>b</answer>", false),
        Some("b")
    );
    assert_eq!(
        last_answer_tag("<answer>a<answer>b</answer>", false),
        Some("a<answer>b")
    );
    assert_eq!(last_answer_tag("<answer></answer>", false), Some(""));
    assert_eq!(last_answer_tag("</answer><answer>", true), None);
    assert_eq!(last_answer_tag("<answer>é</answer>", true), Some("é"));
}
