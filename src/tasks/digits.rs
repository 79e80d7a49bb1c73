//! The 8×8 handwritten digits (UCI optdigits test set as shipped by scikit-learn; see
//! `data/README.md`), embedded in the binary: 1,437 training and 360 test images.

use super::supervised::{Loss, Supervised};
use crate::error::{Error, Result};
use eggroll_core::noise::StreamKey;

static DIGITS: &[u8] = include_bytes!("../../data/digits.u8");
const RECORD: usize = 65;
const IMAGES: usize = 1797;
const TEST: usize = 360;

/// All 1,797 images as (pixels scaled to [0, 1], label), in a fixed shuffled order.
pub fn digits_dataset() -> Result<Vec<([f32; 64], u32)>> {
    if DIGITS.len() != IMAGES * RECORD {
        return Err(Error::Config {
            origin: "data/digits.u8".into(),
            why: format!("expected {} bytes, found {}", IMAGES * RECORD, DIGITS.len()),
        });
    }
    let mut out = Vec::with_capacity(IMAGES);
    for (i, rec) in DIGITS.chunks(RECORD).enumerate() {
        let label = rec[64] as u32;
        if label > 9 || rec[..64].iter().any(|&p| p > 16) {
            return Err(Error::Config {
                origin: "data/digits.u8".into(),
                why: format!("record {i} is out of range"),
            });
        }
        let mut px = [0.0f32; 64];
        for (p, &v) in px.iter_mut().zip(&rec[..64]) {
            *p = v as f32 / 16.0;
        }
        out.push((px, label));
    }
    // Fixed Fisher–Yates shuffle so the train/test split never depends on the run seed.
    let key = StreamKey::new(0xd161_7500, 0, 0, 0);
    for i in (1..out.len()).rev() {
        let j = ((key.bits(i as u32) as u64 * (i as u64 + 1)) >> 32) as usize;
        out.swap(i, j);
    }
    Ok(out)
}

/// The digits classification task; `batch` may be at most the 1,437 training images.
pub fn digits_task(batch: usize, seed: u64) -> Result<Supervised> {
    let train_images = IMAGES - TEST;
    if batch > train_images {
        return Err(Error::Config {
            origin: "task.batch".into(),
            why: format!(
                "{batch} is larger than the digits training set ({train_images} of the 1,797 images; the other {TEST} are the test set), so use at most {train_images}"
            ),
        });
    }
    let data = digits_dataset()?;
    let (test, train) = data.split_at(TEST);
    let flat = |part: &[([f32; 64], u32)]| -> (Vec<f32>, Vec<u32>) {
        (
            part.iter().flat_map(|(x, _)| x.iter().copied()).collect(),
            part.iter().map(|(_, y)| *y).collect(),
        )
    };
    let (train_x, train_labels) = flat(train);
    let (test_x, test_labels) = flat(test);
    Ok(Supervised {
        input: 64,
        output: 10,
        train_x,
        train_y: Loss::CrossEntropy {
            labels: train_labels,
        },
        test_x,
        test_y: Loss::CrossEntropy {
            labels: test_labels,
        },
        batch,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_beyond_the_training_set_is_refused_naming_the_key() {
        let err = match digits_task(100_000, 0) {
            Ok(_) => panic!("batch 100000 accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("task.batch") && err.contains("100000") && err.contains("at most 1437"),
            "{err}"
        );
        assert!(digits_task(1438, 0).is_err());
        assert_eq!(digits_task(1437, 0).unwrap().batch, 1437);
    }

    #[test]
    fn shipped_data_is_intact() {
        let d = digits_dataset().unwrap();
        assert_eq!(d.len(), IMAGES);
        let mut counts = [0usize; 10];
        for (_, y) in &d {
            counts[*y as usize] += 1;
        }
        // Every class has between 174 and 183 images in this set.
        assert!(
            counts.iter().all(|&c| (174..=183).contains(&c)),
            "{counts:?}"
        );
    }
}
