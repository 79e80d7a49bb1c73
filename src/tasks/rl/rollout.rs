//! Rollouts of a batch of members (a block on the CPU, the whole population on a device):
//! all its members × episodes stepped together, one batched forward per step.

use super::{Batching, RlTask};
use crate::error::Result;
use eggroll_core::noise::StreamKey;
use eggroll_core::population::{Population, RowOwners};
use eggroll_core::vec_env::VecEnv;
use eggroll_core::{Backend, Model};
use std::ops::Range;

/// Seed of the first environment of a generation's rollouts (below 2^62, so adding env
/// indices never overflows).
pub(super) fn generation_seed(seed: u64, salt: u32, generation: u64) -> u64 {
    let k = StreamKey::new(seed, salt, generation as u32, (generation >> 32) as u32);
    (((k.k0 as u64) << 32) | k.k1 as u64) >> 2
}

/// One batch of environments for the members of one sign class.
struct Class {
    env: Box<dyn VecEnv>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
}

impl Class {
    fn new(task: &RlTask, envs: usize, seed: u64) -> Result<Self> {
        let mut env = eggroll_rl_envs::make(&task.cfg.env, envs)?;
        env.reset(seed);
        let adim = task.policy.action_dim();
        Ok(Class {
            env,
            actions: vec![0.0; envs * adim],
            rewards: vec![0.0; envs],
            terminated: vec![false; envs],
            truncated: vec![false; envs],
        })
    }

    fn step(&mut self) -> Result<()> {
        self.env.step(
            &self.actions,
            &mut self.rewards,
            &mut self.terminated,
            &mut self.truncated,
        )?;
        Ok(())
    }
}

/// Mean episode return of each member in `members`.
///
/// Rows are ordered by member, then episode. Antithetic partners are put in two classes (the
/// `+` and the `−` members) whose environment batches are reset with the same seeds, so both
/// partners start every episode from the same state.
pub fn population_returns<B: Backend, M: Model<B> + ?Sized>(
    task: &RlTask,
    backend: &B,
    model: &M,
    pop: &Population,
    members: Range<u32>,
    generation: u64,
) -> Result<Vec<f32>> {
    let e = task.cfg.episodes;
    let n_members = members.len();
    let rows = n_members * e;
    let base = generation_seed(task.seed, 0x5eed, generation);
    let class_of = |m: u32| if pop.antithetic { (m % 2) as usize } else { 0 };
    let n_classes = if pop.antithetic { 2 } else { 1 };
    // (class, env index) of every row.
    let mut slot = Vec::with_capacity(rows);
    let mut classes = Vec::with_capacity(n_classes);
    for c in 0..n_classes {
        let class_members: Vec<u32> = members.clone().filter(|&m| class_of(m) == c).collect();
        let first_stream = class_members.first().map_or(0, |&m| pop.stream_of(m)) as u64;
        let envs = class_members.len() * e;
        classes.push(if envs > 0 {
            Some(Class::new(task, envs, base + first_stream * e as u64)?)
        } else {
            None
        });
    }
    let mut counters = vec![0usize; n_classes];
    for m in members.clone() {
        let c = class_of(m);
        for _ in 0..e {
            slot.push((c, counters[c]));
            counters[c] += 1;
        }
    }
    let obs_dim = task.obs_dim;
    let outs = task.policy.outputs();
    let adim = task.policy.action_dim();
    let mut active = vec![true; rows];
    let mut returns = vec![0.0f64; rows];
    let mut x = Vec::with_capacity(rows * obs_dim);
    let mut row_members = Vec::with_capacity(rows);
    let mut batch_rows = Vec::with_capacity(rows);
    let horizon = eggroll_rl_envs::make(&task.cfg.env, 1)?.max_episode_steps();
    let norm = task.normaliser();
    let mut steps = 0;
    loop {
        let finished = match task.cfg.batching {
            Batching::Full => steps == horizon,
            Batching::Compact | Batching::Mask => !active.iter().any(|&a| a),
        };
        if finished {
            break;
        }
        steps += 1;
        x.clear();
        row_members.clear();
        batch_rows.clear();
        for r in 0..rows {
            if task.cfg.batching == Batching::Compact && !active[r] {
                continue;
            }
            let (c, i) = slot[r];
            let env = &classes[c].as_ref().map(|cl| &cl.env);
            if let Some(env) = env {
                x.extend_from_slice(&env.observations()[i * obs_dim..(i + 1) * obs_dim]);
            }
            row_members.push(members.start + (r / e) as u32);
            batch_rows.push(r);
        }
        if let Some(n) = &norm {
            n.normalise(&mut x);
        }
        let xb = backend.upload(&x)?;
        let yb = match task.cfg.batching {
            Batching::Compact => {
                let owners = RowOwners::Tagged {
                    pop,
                    members: &row_members,
                };
                model.forward(backend, &xb, row_members.len(), owners)?
            }
            Batching::Mask | Batching::Full => {
                let owners = RowOwners::Grouped {
                    pop,
                    first_member: members.start,
                    rows_per_member: e,
                };
                model.forward(backend, &xb, rows, owners)?
            }
        };
        let y = backend.download(&yb)?;
        for (k, &r) in batch_rows.iter().enumerate() {
            if !active[r] {
                continue;
            }
            let (c, i) = slot[r];
            if let Some(cl) = classes[c].as_mut() {
                task.policy.act(
                    &y[k * outs..(k + 1) * outs],
                    &mut cl.actions[i * adim..(i + 1) * adim],
                    r,
                )?;
            }
        }
        for cl in classes.iter_mut().flatten() {
            cl.step()?;
        }
        for r in 0..rows {
            if !active[r] {
                continue;
            }
            let (c, i) = slot[r];
            if let Some(cl) = classes[c].as_ref() {
                returns[r] += cl.rewards[i] as f64;
                if cl.terminated[i] || cl.truncated[i] {
                    active[r] = false;
                }
            }
        }
    }
    Ok(returns
        .chunks(e)
        .map(|c| (c.iter().sum::<f64>() / e as f64) as f32)
        .collect())
}

/// Returns of `episodes` episodes of the unperturbed policy from fixed evaluation seeds.
pub fn evaluate<B: Backend, M: Model<B> + ?Sized>(
    task: &RlTask,
    backend: &B,
    model: &M,
    episodes: usize,
) -> Result<Vec<f64>> {
    let mut cl = Class::new(task, episodes, generation_seed(0xe7a1, 0xe7a1, 0))?;
    let (obs_dim, outs, adim) = (
        task.obs_dim,
        task.policy.outputs(),
        task.policy.action_dim(),
    );
    let mut active = vec![true; episodes];
    let mut returns = vec![0.0f64; episodes];
    let norm = task.normaliser();
    let mut x = Vec::new();
    while active.iter().any(|&a| a) {
        x.clear();
        x.extend_from_slice(cl.env.observations());
        if let Some(n) = &norm {
            n.normalise(&mut x);
        }
        let xb = backend.upload(&x)?;
        let y = backend.download(&model.forward(backend, &xb, episodes, RowOwners::Plain)?)?;
        for i in 0..episodes {
            task.policy.act(
                &y[i * outs..(i + 1) * outs],
                &mut cl.actions[i * adim..(i + 1) * adim],
                i,
            )?;
        }
        debug_assert_eq!(cl.env.obs_dim(), obs_dim);
        cl.step()?;
        for i in 0..episodes {
            if active[i] {
                returns[i] += cl.rewards[i] as f64;
                if cl.terminated[i] || cl.truncated[i] {
                    active[i] = false;
                }
            }
        }
    }
    Ok(returns)
}

/// One episode of the unperturbed policy: physical states, actions and the return.
#[derive(Clone, Debug, Default)]
pub struct EpisodeTrace {
    /// Physical state before each step, and the final state.
    pub states: Vec<Vec<f64>>,
    /// Action taken at each step.
    pub actions: Vec<Vec<f32>>,
    /// Raw observation before each step.
    pub observations: Vec<Vec<f32>>,
    /// Sum of rewards.
    pub total_return: f64,
}

/// Play one episode of the unperturbed policy from evaluation seed `seed`.
pub fn play_episode<B: Backend, M: Model<B> + ?Sized>(
    task: &RlTask,
    backend: &B,
    model: &M,
    seed: u64,
) -> Result<EpisodeTrace> {
    let mut cl = Class::new(task, 1, seed)?;
    let (outs, adim) = (task.policy.outputs(), task.policy.action_dim());
    let mut trace = EpisodeTrace::default();
    let norm = task.normaliser();
    loop {
        trace.states.extend(cl.env.state(0));
        let mut x = cl.env.observations().to_vec();
        trace.observations.push(x.clone());
        if let Some(n) = &norm {
            n.normalise(&mut x);
        }
        let xb = backend.upload(&x)?;
        let y = backend.download(&model.forward(backend, &xb, 1, RowOwners::Plain)?)?;
        task.policy.act(&y[..outs], &mut cl.actions[..adim], 0)?;
        trace.actions.push(cl.actions.clone());
        cl.step()?;
        trace.total_return += cl.rewards[0] as f64;
        if cl.terminated[0] || cl.truncated[0] {
            // The final state of the finished episode (before auto-reset) is not kept by the
            // batch; the last drawn frame is the state before the final step.
            break;
        }
    }
    Ok(trace)
}
