//! The registry: environment names to batched constructors.

use eggroll_core::vec_env::VecEnv;
use eggroll_core::{CoreError, Result};

use crate::batch::Batched;
use crate::envs::{Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum};
use crate::physics::Physics;

/// A constructor of a boxed batch of `num_envs` environments.
type Maker = fn(usize) -> Result<Box<dyn VecEnv>>;

fn boxed<P: Physics>(num_envs: usize) -> Result<Box<dyn VecEnv>> {
    Ok(Box::new(Batched::<P>::new(num_envs)?))
}

/// Every registered environment, in a stable order. Adding an environment is one line here.
const REGISTRY: &[(&str, Maker)] = &[
    (CartPole::NAME, boxed::<CartPole>),
    (Pendulum::NAME, boxed::<Pendulum>),
    (Acrobot::NAME, boxed::<Acrobot>),
    (MountainCar::NAME, boxed::<MountainCar>),
    (MountainCarContinuous::NAME, boxed::<MountainCarContinuous>),
];

/// Names of the registered environments, in registry order.
pub fn env_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|(name, _)| *name).collect()
}

/// A batch of `num_envs` environments of the registered kind `name`, reset with seed 0.
/// An unknown name is an error that lists the registered ones.
pub fn make(name: &str, num_envs: usize) -> Result<Box<dyn VecEnv>> {
    match REGISTRY.iter().find(|(n, _)| *n == name) {
        Some((_, maker)) => maker(num_envs),
        None => Err(CoreError::invalid(
            "environment",
            format!(
                "unknown environment '{name}'; registered: {}",
                env_names().join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_name_builds_with_matching_name() {
        for name in env_names() {
            let env = make(name, 3).unwrap();
            assert_eq!(env.name(), name);
            assert_eq!(env.num_envs(), 3);
            assert_eq!(env.observations().len(), 3 * env.obs_dim());
        }
    }

    #[test]
    fn unknown_name_lists_registered() {
        let err = make("CartPole-v0", 1).err().unwrap().to_string();
        assert!(err.contains("CartPole-v0"), "{err}");
        for name in env_names() {
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn empty_batch_is_rejected() {
        assert!(make("CartPole-v1", 0).is_err());
    }
}
