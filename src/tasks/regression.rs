//! Regression to a fixed random teacher network (as in the JAX reference's end-to-end test,
//! generalised): inputs are standard normals, targets the teacher's tanh-MLP outputs.

use super::supervised::{Loss, Supervised};
use crate::error::Result;
use eggroll_core::backend::Activation;
use eggroll_core::cpu::Cpu;
use eggroll_core::mlp::{Mlp, MlpConfig};
use eggroll_core::noise::{fill_normals, StreamKey};
use eggroll_core::{Model, RowOwners};

const TRAIN: usize = 4096;
const TEST: usize = 1024;

/// Build the teacher-regression task.
pub fn teacher_task(
    input: usize,
    output: usize,
    teacher_hidden: usize,
    batch: usize,
    seed: u64,
) -> Result<Supervised> {
    let teacher_cfg = MlpConfig {
        input,
        hidden: vec![teacher_hidden],
        output,
        activation: Activation::Tanh,
        output_activation: Activation::Identity,
        bias: true,
    };
    let cpu = Cpu::new();
    let teacher = Mlp::init(&cpu, teacher_cfg, seed ^ 0x7eac_4e70)?;
    let inputs = |n: usize, salt: u32| {
        let mut x = vec![0.0f32; n * input];
        fill_normals(StreamKey::new(seed, salt, 0, 0), 0, 1.0, &mut x);
        x
    };
    let (train_x, test_x) = (inputs(TRAIN, 0x7a11), inputs(TEST, 0x7e57));
    let targets = |x: &Vec<f32>, n| teacher.forward(&cpu, x, n, RowOwners::Plain);
    Ok(Supervised {
        input,
        output,
        train_y: Loss::Mse {
            targets: targets(&train_x, TRAIN)?,
        },
        test_y: Loss::Mse {
            targets: targets(&test_x, TEST)?,
        },
        train_x,
        test_x,
        batch,
        seed,
    })
}
