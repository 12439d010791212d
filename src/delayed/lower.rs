//! Lowering handles to tasks: one `Op::Call` (or `Op::Literal`) task per node,
//! memoized by the node's id, so a handle used many times is one task.

use super::{Node, NodeArg, NodeKind};
use crate::error::Result;
use crate::expr::LowerCtx;
use crate::graph::{stage, CallArg, ChunkKey, Op, TaskId};
use std::sync::Arc;

fn key_of(node: &Node) -> ChunkKey {
    ChunkKey {
        array: node.id,
        stage: stage::BLOCK,
        block: Vec::new(),
    }
}

/// The task computing `root`, with every call it needs. Iterative (an explicit
/// stack), so a chain of a million calls does not overflow the thread's stack.
pub(crate) fn lower_node(l: &mut dyn LowerCtx, root: &Arc<Node>) -> Result<TaskId> {
    // (node, its arguments pushed already)
    let mut stack: Vec<(Arc<Node>, bool)> = vec![(root.clone(), false)];
    while let Some((node, expanded)) = stack.pop() {
        let key = key_of(&node);
        if l.memoized(&key).is_some() {
            continue;
        }
        let args = match &node.kind {
            NodeKind::Call { args, .. } => args.as_slice(),
            NodeKind::Literal(_) => &[],
        };
        if !expanded {
            stack.push((node.clone(), true));
            for a in args.iter().rev() {
                if let NodeArg::Handle(h) = a {
                    if l.memoized(&key_of(h)).is_none() {
                        stack.push((h.clone(), false));
                    }
                }
            }
            continue;
        }
        let t = push_node(l, &node, key.clone())?;
        l.memoize(key, t);
    }
    Ok(l.memoized(&key_of(root)).expect("the root is lowered last"))
}

/// Appends the task of `node`, whose handle arguments are lowered already.
fn push_node(l: &mut dyn LowerCtx, node: &Node, key: ChunkKey) -> Result<TaskId> {
    l.set_name(node.id, node.label());
    match &node.kind {
        NodeKind::Literal(c) => Ok(l.push_task(
            key,
            Op::Literal { data: c.clone() },
            Vec::new(),
            c.nbytes() as u64,
            0,
        )),
        NodeKind::Call { function, args } => {
            let mut inputs: Vec<TaskId> = Vec::new();
            let mut call_args = Vec::with_capacity(args.len());
            for a in args {
                let t = match a {
                    NodeArg::Value(b) => {
                        call_args.push(CallArg::Value(b.clone()));
                        continue;
                    }
                    NodeArg::Handle(h) => l
                        .memoized(&key_of(h))
                        .expect("arguments are lowered before their calls"),
                    NodeArg::Block { expr, idx } => l.block(expr, idx)?,
                };
                // A handle passed twice is one input of the task.
                let i = inputs.iter().position(|&x| x == t).unwrap_or_else(|| {
                    inputs.push(t);
                    inputs.len() - 1
                });
                call_args.push(CallArg::Input(
                    u32::try_from(i).expect("fewer than 2^32 arguments"),
                ));
            }
            Ok(l.push_task(
                key,
                Op::Call {
                    function: function.clone(),
                    args: call_args,
                },
                inputs,
                node.mem_bytes,
                0,
            ))
        }
    }
}
