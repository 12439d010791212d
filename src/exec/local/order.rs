//! Static task priorities: a depth-first post-order from the outputs, inputs
//! visited in block order. Running ready tasks in this order finishes one branch
//! of a reduction (and frees its inputs) before reading the next, avoiding
//! dask's root-task overproduction (distributed#6360).

use crate::graph::Graph;

/// Priority of every task (lower runs first).
pub(crate) fn priorities(graph: &Graph) -> Vec<u32> {
    let outputs: Vec<usize> = graph.outputs.iter().map(|o| o.0 as usize).collect();
    priorities_of(graph.len(), &outputs, |t, k| {
        graph.tasks[t].inputs.get(k).map(|i| i.0 as usize)
    })
}

/// [`priorities`] of `n` tasks given their outputs and `input(t, k)`, the `k`-th
/// input of task `t` (`None` past the last), for graphs held in other forms.
pub(crate) fn priorities_of(
    n: usize,
    outputs: &[usize],
    input: impl Fn(usize, usize) -> Option<usize>,
) -> Vec<u32> {
    let mut prio = vec![u32::MAX; n];
    let mut next = 0u32;
    // Iterative DFS: (task, next input to visit).
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let roots: Vec<usize> = if outputs.is_empty() {
        (0..n).collect()
    } else {
        outputs.to_vec()
    };
    for r in roots {
        if prio[r] != u32::MAX {
            continue;
        }
        stack.push((r, 0));
        while let Some(&mut (t, ref mut k)) = stack.last_mut() {
            if let Some(c) = input(t, *k) {
                *k += 1;
                if prio[c] == u32::MAX {
                    prio[c] = u32::MAX - 1; // on the stack
                    stack.push((c, 0));
                }
            } else {
                prio[t] = next;
                next += 1;
                stack.pop();
            }
        }
    }
    for p in &mut prio {
        if *p >= u32::MAX - 1 {
            *p = next;
            next += 1;
        }
    }
    prio
}
