//! Schedules for the learning rate and σ over generations.

use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};

/// The shape of a schedule from `start` to `end` over `generations`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Always `start`.
    #[default]
    Constant,
    /// Straight line from `start` to `end`.
    Linear,
    /// Half cosine from `start` to `end`.
    Cosine,
}

/// A value that changes with the generation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Shape of the curve.
    pub kind: ScheduleKind,
    /// Value at generation 0.
    pub start: f64,
    /// Value at generation `generations` and after.
    pub end: f64,
    /// Length of the schedule in generations.
    pub generations: u64,
}

impl Schedule {
    /// A constant schedule.
    pub fn constant(value: f64) -> Self {
        Schedule {
            kind: ScheduleKind::Constant,
            start: value,
            end: value,
            generations: 1,
        }
    }

    /// Check that every value the schedule takes is finite and > 0 (`name` labels the error).
    pub fn validate_positive(&self, name: &str) -> Result<()> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        let end_used = self.kind != ScheduleKind::Constant;
        if !ok(self.start) || (end_used && !ok(self.end)) {
            return Err(CoreError::invalid(
                name,
                format!(
                    "start {} and end {} must be finite and > 0",
                    self.start, self.end
                ),
            ));
        }
        Ok(())
    }

    /// The value at `generation`.
    pub fn at(&self, generation: u64) -> f64 {
        let span = self.generations.max(1) as f64;
        let p = (generation as f64 / span).min(1.0);
        match self.kind {
            ScheduleKind::Constant => self.start,
            ScheduleKind::Linear => self.start + (self.end - self.start) * p,
            ScheduleKind::Cosine => {
                self.end + (self.start - self.end) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_midpoints() {
        let lin = Schedule {
            kind: ScheduleKind::Linear,
            start: 1.0,
            end: 0.0,
            generations: 10,
        };
        assert_eq!(lin.at(0), 1.0);
        assert_eq!(lin.at(5), 0.5);
        assert_eq!(lin.at(20), 0.0);
        let cos = Schedule {
            kind: ScheduleKind::Cosine,
            ..lin
        };
        assert!((cos.at(5) - 0.5).abs() < 1e-12);
        assert!((cos.at(10)).abs() < 1e-12);
        assert_eq!(Schedule::constant(0.3).at(99), 0.3);
    }
}
