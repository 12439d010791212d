//! Static task priorities: a depth-first post-order from the outputs, inputs
//! visited in block order. Running ready tasks in this order finishes one branch
//! of a reduction (and frees its inputs) before reading the next, avoiding
//! dask's root-task overproduction (distributed#6360).

use crate::graph::Graph;

/// Priority of every task (lower runs first).
pub(crate) fn priorities(graph: &Graph) -> Vec<u32> {
    let n = graph.len();
    let mut prio = vec![u32::MAX; n];
    let mut next = 0u32;
    // Iterative DFS: (task, next input to visit).
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let roots: Vec<usize> = if graph.outputs.is_empty() {
        (0..n).collect()
    } else {
        graph.outputs.iter().map(|o| o.0 as usize).collect()
    };
    for r in roots {
        if prio[r] != u32::MAX {
            continue;
        }
        stack.push((r, 0));
        while let Some(&mut (t, ref mut k)) = stack.last_mut() {
            let inputs = &graph.tasks[t].inputs;
            if *k < inputs.len() {
                let c = inputs[*k].0 as usize;
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
