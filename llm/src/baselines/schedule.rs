//! ReLoRA's "jagged" cosine schedule: one cosine decay over the whole run, a linear warm-up at
//! the start, and after every restart (each merge of the adapters) a short re-warm-up from 0 up
//! to where the cosine stands at the warm-up's end (Lialin et al. 2023).

use crate::error::{LlmError, Result};

/// The learning-rate multiplier of a ReLoRA run (multiply the base rate by [`JaggedCosine::at`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JaggedCosine {
    /// Steps of the whole run.
    pub total_steps: u64,
    /// Linear warm-up from 0 at the start.
    pub warmup: u64,
    /// Restart period: the adapters merge every `restart_every` steps (0: never).
    pub restart_every: u64,
    /// Linear re-warm-up after each restart.
    pub rewarmup: u64,
    /// The floor of the cosine, as a fraction of the base rate.
    pub min_ratio: f64,
}

impl JaggedCosine {
    /// Check the settings, naming the key at fault.
    pub fn validate(&self) -> Result<()> {
        if self.total_steps == 0 {
            return Err(LlmError::config(
                "relora.steps",
                "a run needs at least one step",
            ));
        }
        if !(0.0..=1.0).contains(&self.min_ratio) {
            return Err(LlmError::config(
                "relora.min_lr_ratio",
                format!("{} is not in [0, 1]", self.min_ratio),
            ));
        }
        if self.restart_every > 0 && self.rewarmup >= self.restart_every {
            return Err(LlmError::config(
                "relora.rewarmup",
                format!(
                    "{} re-warm-up steps do not fit in a restart period of {}",
                    self.rewarmup, self.restart_every
                ),
            ));
        }
        Ok(())
    }

    /// The cosine alone at `step` (from 1 at the warm-up's end to `min_ratio` at the run's end).
    fn cosine(&self, step: u64) -> f64 {
        let span = self.total_steps.saturating_sub(self.warmup).max(1) as f64;
        let progress = (step.saturating_sub(self.warmup) as f64 / span).min(1.0);
        self.min_ratio
            + (1.0 - self.min_ratio) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }

    /// The multiplier at `step` (0-based).
    pub fn at(&self, step: u64) -> f64 {
        if step < self.warmup {
            return step as f64 / self.warmup as f64;
        }
        if self.restart_every > 0 && step >= self.restart_every && self.rewarmup > 0 {
            let into = step % self.restart_every;
            if into < self.rewarmup {
                let restart = step - into;
                return into as f64 / self.rewarmup as f64 * self.cosine(restart + self.rewarmup);
            }
        }
        self.cosine(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched() -> JaggedCosine {
        JaggedCosine {
            total_steps: 110,
            warmup: 10,
            restart_every: 50,
            rewarmup: 5,
            min_ratio: 0.1,
        }
    }

    #[test]
    fn warms_up_decays_and_rewarms_after_each_restart() {
        let s = sched();
        assert_eq!(s.at(0), 0.0);
        assert_eq!(s.at(5), 0.5);
        assert_eq!(s.at(10), 1.0);
        // Halfway through the cosine (step 60 of 10..110): 0.1 + 0.9 · 0.5.
        assert!((s.cosine(60) - 0.55).abs() < 1e-12);
        // Restart at 50: 0 there, then linear up to the cosine at step 55.
        assert_eq!(s.at(50), 0.0);
        let top = s.cosine(55);
        assert!((s.at(52) - 0.4 * top).abs() < 1e-12);
        assert!((s.at(55) - top).abs() < 1e-12);
        assert!((s.at(100) - 0.0).abs() < 1e-12);
        assert!((s.at(104) - 0.8 * s.cosine(105)).abs() < 1e-12);
        assert!((s.at(110) - 0.1).abs() < 1e-12);
        // Between restarts it follows the one cosine, never above 1.
        assert!((0..110).all(|t| s.at(t) <= 1.0 + 1e-12));
        assert!(s.at(30) > s.at(40));
    }

    #[test]
    fn without_restarts_it_is_warm_up_then_cosine() {
        let s = JaggedCosine {
            restart_every: 0,
            ..sched()
        };
        assert!((s.at(50) - s.cosine(50)).abs() < 1e-12);
        assert!(s.at(50) > 0.5);
    }

    #[test]
    fn bad_settings_name_their_key() {
        let e = JaggedCosine {
            rewarmup: 50,
            ..sched()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("relora.rewarmup"), "{e}");
        let e = JaggedCosine {
            min_ratio: 2.0,
            ..sched()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("relora.min_lr_ratio"), "{e}");
        assert!(sched().validate().is_ok());
    }
}
