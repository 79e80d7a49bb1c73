//! `Batched<P>`: any [`Physics`] as a [`VecEnv`] — blocks, time limits, auto-reset, threads.

use std::marker::PhantomData;

use eggroll_core::vec_env::{Space, VecEnv};
use eggroll_core::{CoreError, Result};
use rayon::prelude::*;

use crate::physics::{gather, scatter, Physics, LANES, MAX_STATE_DIM};
use crate::rng::{ResetRng, ResetRngs};
use crate::validate::{check_actions, check_len};

/// Finished lanes whose reset streams are hashed together.
const RESET_GROUP: usize = 16;

/// State and episode counters of [`LANES`] environments (the last block may be partly used).
#[derive(Clone, Debug)]
struct Block {
    /// `STATE_DIM × LANES` f64, component-major.
    state: Vec<f64>,
    /// Steps taken in the current episode.
    elapsed: Vec<u32>,
    /// Episodes started since the last `reset` (selects the reset stream).
    episode: Vec<u32>,
}

/// A batch of `num_envs` environments of kind `P`, stepped together.
///
/// Blocks of [`LANES`] environments are spread over rayon's current thread pool (one block per
/// task, in fixed chunks, so results never depend on the thread count). Environment `i` of a
/// batch reset with `seed` draws its `k`-th episode's initial state from the stream
/// `ResetRng::new(seed + i, P::RESET_SALT, k)`.
#[derive(Clone, Debug)]
pub struct Batched<P: Physics> {
    num_envs: usize,
    seed: u64,
    blocks: Vec<Block>,
    obs: Vec<f32>,
    final_obs: Vec<f32>,
    action_space: Space,
    _physics: PhantomData<P>,
}

impl<P: Physics> Batched<P> {
    /// A batch of `num_envs ≥ 1` environments, already reset with seed 0.
    pub fn new(num_envs: usize) -> Result<Self> {
        if num_envs == 0 {
            return Err(CoreError::invalid(
                format!("{} num_envs", P::NAME),
                "a batch needs at least one environment",
            ));
        }
        if P::STATE_DIM > MAX_STATE_DIM {
            return Err(CoreError::invalid(
                format!("{} state_dim", P::NAME),
                format!("{} exceeds the supported {MAX_STATE_DIM}", P::STATE_DIM),
            ));
        }
        let n_blocks = num_envs.div_ceil(LANES);
        let block = Block {
            state: vec![0.0; P::STATE_DIM * LANES],
            elapsed: vec![0; LANES],
            episode: vec![0; LANES],
        };
        let mut env = Batched {
            num_envs,
            seed: 0,
            blocks: vec![block; n_blocks],
            obs: vec![0.0; num_envs * P::OBS_DIM],
            final_obs: vec![0.0; num_envs * P::OBS_DIM],
            action_space: P::action_space(),
            _physics: PhantomData,
        };
        env.reset(0);
        Ok(env)
    }

    /// Steps taken so far in env `i`'s current episode.
    pub fn elapsed_steps(&self, i: usize) -> Option<u32> {
        (i < self.num_envs).then(|| self.blocks[i / LANES].elapsed[i % LANES])
    }

    /// Draw env `i`'s initial state for its current episode index and observe it.
    fn reset_env(&mut self, i: usize) {
        let (b, lane) = (i / LANES, i % LANES);
        let block = &mut self.blocks[b];
        block.elapsed[lane] = 0;
        let row = &mut self.obs[i * P::OBS_DIM..(i + 1) * P::OBS_DIM];
        reset_lane::<P>(self.seed, i, block, lane, row);
    }
}

/// Draw and store a fresh initial state for `lane` of `block` (env `i`), writing its
/// observation to `obs_row`.
fn reset_lane<P: Physics>(
    seed: u64,
    i: usize,
    block: &mut Block,
    lane: usize,
    obs_row: &mut [f32],
) {
    let mut s = [0.0; MAX_STATE_DIM];
    let s = &mut s[..P::STATE_DIM];
    let mut rng = ResetRng::new(
        seed.wrapping_add(i as u64),
        P::RESET_SALT,
        block.episode[lane],
    );
    P::reset(&mut rng, s);
    scatter(&mut block.state, lane, s);
    P::observe(s, obs_row);
}

/// The per-block buffers of one step.
struct BlockIo<'a> {
    obs: &'a mut [f32],
    final_obs: &'a mut [f32],
    actions: &'a [f32],
    rewards: &'a mut [f32],
    terminated: &'a mut [bool],
    truncated: &'a mut [bool],
}

/// One step of block `b`: physics, time limit, observations, auto-reset of finished lanes.
fn step_block<P: Physics>(seed: u64, b: usize, block: &mut Block, io: BlockIo<'_>) {
    let n = io.rewards.len();
    P::step_block(
        &mut block.state,
        n,
        io.actions,
        &block.elapsed[..n],
        io.rewards,
        io.terminated,
    );
    let limit = P::MAX_EPISODE_STEPS;
    for (e, t) in block.elapsed[..n].iter_mut().zip(io.truncated.iter_mut()) {
        *e += 1;
        *t = *e >= limit;
    }
    P::observe_block(&block.state, n, io.obs);
    let od = P::OBS_DIM;
    let mut finished = [0usize; LANES];
    let mut count = 0;
    for lane in 0..n {
        finished[count] = lane;
        count += usize::from(io.terminated[lane] | io.truncated[lane]);
    }
    // The reset streams of the finished lanes, sixteen at a time side by side.
    for group in finished[..count].chunks(RESET_GROUP) {
        for &lane in group {
            let row = lane * od..(lane + 1) * od;
            io.final_obs[row.clone()].copy_from_slice(&io.obs[row]);
            block.episode[lane] = block.episode[lane].wrapping_add(1);
            block.elapsed[lane] = 0;
        }
        let at = |k: usize| group[k.min(group.len() - 1)];
        let seeds = std::array::from_fn(|k| seed.wrapping_add((b * LANES + at(k)) as u64));
        let episodes = std::array::from_fn(|k| block.episode[at(k)]);
        let rngs = ResetRngs::<RESET_GROUP>::new(&seeds, P::RESET_SALT, &episodes);
        for (k, &lane) in group.iter().enumerate() {
            let mut s = [0.0; MAX_STATE_DIM];
            let s = &mut s[..P::STATE_DIM];
            P::reset(&mut rngs.lane(k), s);
            scatter(&mut block.state, lane, s);
            P::observe(s, &mut io.obs[lane * od..(lane + 1) * od]);
        }
    }
}

impl<P: Physics> VecEnv for Batched<P> {
    fn name(&self) -> &str {
        P::NAME
    }

    fn num_envs(&self) -> usize {
        self.num_envs
    }

    fn obs_dim(&self) -> usize {
        P::OBS_DIM
    }

    fn action_dim(&self) -> usize {
        self.action_space.dim()
    }

    fn observation_space(&self) -> Space {
        P::observation_space()
    }

    fn action_space(&self) -> Space {
        self.action_space.clone()
    }

    fn max_episode_steps(&self) -> usize {
        P::MAX_EPISODE_STEPS as usize
    }

    fn reset(&mut self, seed: u64) {
        self.seed = seed;
        for block in &mut self.blocks {
            block.episode.fill(0);
        }
        for i in 0..self.num_envs {
            self.reset_env(i);
        }
    }

    fn observations(&self) -> &[f32] {
        &self.obs
    }

    fn final_observations(&self) -> &[f32] {
        &self.final_obs
    }

    fn step(
        &mut self,
        actions: &[f32],
        rewards: &mut [f32],
        terminated: &mut [bool],
        truncated: &mut [bool],
    ) -> Result<()> {
        let n = self.num_envs;
        check_actions(P::NAME, &self.action_space, n, actions)?;
        check_len(P::NAME, "rewards", n, rewards.len())?;
        check_len(P::NAME, "terminated", n, terminated.len())?;
        check_len(P::NAME, "truncated", n, truncated.len())?;
        let seed = self.seed;
        let (od, ad) = (P::OBS_DIM, self.action_space.dim());
        if self.blocks.len() == 1 || rayon::current_num_threads() == 1 {
            let ios = self
                .obs
                .chunks_mut(LANES * od)
                .zip(self.final_obs.chunks_mut(LANES * od))
                .zip(actions.chunks(LANES * ad))
                .zip(rewards.chunks_mut(LANES))
                .zip(terminated.chunks_mut(LANES))
                .zip(truncated.chunks_mut(LANES));
            for (b, (block, (((((obs, final_obs), actions), rewards), terminated), truncated))) in
                self.blocks.iter_mut().zip(ios).enumerate()
            {
                let io = BlockIo {
                    obs,
                    final_obs,
                    actions,
                    rewards,
                    terminated,
                    truncated,
                };
                step_block::<P>(seed, b, block, io);
            }
        } else {
            (
                self.blocks.par_iter_mut().enumerate(),
                self.obs.par_chunks_mut(LANES * od),
                self.final_obs.par_chunks_mut(LANES * od),
                actions.par_chunks(LANES * ad),
                rewards.par_chunks_mut(LANES),
                terminated.par_chunks_mut(LANES),
                truncated.par_chunks_mut(LANES),
            )
                .into_par_iter()
                .for_each(
                    |((b, block), obs, final_obs, actions, rewards, terminated, truncated)| {
                        let io = BlockIo {
                            obs,
                            final_obs,
                            actions,
                            rewards,
                            terminated,
                            truncated,
                        };
                        step_block::<P>(seed, b, block, io);
                    },
                );
        }
        Ok(())
    }

    fn state_dim(&self) -> usize {
        P::STATE_DIM
    }

    fn state(&self, i: usize) -> Option<Vec<f64>> {
        if i >= self.num_envs {
            return None;
        }
        let mut s = vec![0.0; P::STATE_DIM];
        gather(&self.blocks[i / LANES].state, i % LANES, &mut s);
        Some(s)
    }

    fn set_state(&mut self, i: usize, state: &[f64]) -> Result<()> {
        if i >= self.num_envs {
            return Err(CoreError::invalid(
                format!("{} set_state env index", P::NAME),
                format!("{i} is out of range for a batch of {}", self.num_envs),
            ));
        }
        if state.len() != P::STATE_DIM {
            return Err(CoreError::shape(
                format!("{} set_state of env {i}", P::NAME),
                P::STATE_DIM,
                state.len(),
            ));
        }
        if let Some(k) = state.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::invalid(
                format!("{} set_state of env {i}", P::NAME),
                format!("component {k} is {}", state[k]),
            ));
        }
        let (b, lane) = (i / LANES, i % LANES);
        scatter(&mut self.blocks[b].state, lane, state);
        self.blocks[b].elapsed[lane] = 0;
        P::observe(state, &mut self.obs[i * P::OBS_DIM..(i + 1) * P::OBS_DIM]);
        Ok(())
    }
}
