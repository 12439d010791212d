//! Integer-array indexing: the gather runs that fetch a list of indices along
//! one axis from the blocks holding them.

use darray_kernels::gather::GatherRun;

/// The input blocks (ascending) holding `indices` (global, in range) along an
/// axis with block starts `offsets`, and the runs that copy them in order:
/// consecutive indices in one block moving by +1, -1 or 0 share a run.
pub(crate) fn index_runs(offsets: &[usize], indices: &[usize]) -> (Vec<u32>, Vec<GatherRun>) {
    let block_of = |i: usize| offsets.partition_point(|&o| o <= i) - 1;
    // (block, local start, step, len)
    let mut runs: Vec<(usize, usize, i8, usize)> = Vec::new();
    for &i in indices {
        let b = block_of(i);
        let local = i - offsets[b];
        if let Some(last) = runs.last_mut() {
            if last.0 == b {
                // The run's last element, and the step that would reach `local`.
                let end = last.1 as i64 + i64::from(last.2) * (last.3 as i64 - 1);
                let d = local as i64 - end;
                let fits = if last.3 == 1 {
                    (-1..=1).contains(&d)
                } else {
                    d == i64::from(last.2)
                };
                if fits {
                    last.2 = i8::try_from(d).expect("step in -1..=1");
                    last.3 += 1;
                    continue;
                }
            }
        }
        runs.push((b, local, 1, 1));
    }
    let mut blocks: Vec<u32> = runs
        .iter()
        .map(|r| u32::try_from(r.0).expect("block index fits u32"))
        .collect();
    blocks.sort_unstable();
    blocks.dedup();
    let mut dst = 0;
    let runs = runs
        .into_iter()
        .map(|(b, start, step, len)| {
            let b = u32::try_from(b).expect("block index fits u32");
            let slot =
                u32::try_from(blocks.binary_search(&b).expect("listed")).expect("slot fits u32");
            let r = GatherRun {
                slot: Some(slot),
                start,
                step,
                len,
                dst,
            };
            dst += len;
            r
        })
        .collect();
    (blocks, runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_expand_to_the_indices() {
        let offsets = [0usize, 3, 4, 8, 10];
        let lists: Vec<Vec<usize>> = vec![
            vec![],
            vec![0, 1, 2, 3, 4, 5, 9],
            vec![7, 6, 5, 4, 3, 2, 1, 0],
            vec![5, 5, 5, 6, 6, 2, 2, 1, 0, 9, 8, 8],
            vec![3, 3, 0, 9, 4, 7, 5, 6],
        ];
        for list in lists {
            let (blocks, runs) = index_runs(&offsets, &list);
            let mut got = Vec::new();
            for r in &runs {
                let base = offsets[blocks[r.slot.unwrap() as usize] as usize] + r.start;
                for k in 0..r.len {
                    got.push(match r.step {
                        1 => base + k,
                        -1 => base - k,
                        _ => base,
                    });
                }
            }
            assert_eq!(got, list);
        }
        // Runs merge: a sorted stretch inside one block is one run.
        let (_, runs) = index_runs(&offsets, &[4, 5, 6, 7]);
        assert_eq!(runs.len(), 1);
    }
}
