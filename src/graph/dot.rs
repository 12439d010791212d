//! DOT rendering of a graph, for Graphviz.

use super::Graph;
use std::fmt::Write as _;

impl Graph {
    /// The graph in Graphviz DOT: one node per task labelled with its key and op,
    /// one edge per input, outputs drawn as double circles.
    #[must_use]
    pub fn to_dot(&self) -> String {
        let mut s =
            String::from("digraph darray {\n  rankdir=BT;\n  node [shape=box, fontsize=10];\n");
        for (i, t) in self.tasks.iter().enumerate() {
            let shape = if self.outputs.iter().any(|o| o.0 as usize == i) {
                ", shape=doublecircle"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "  t{i} [label=\"{}\\n{}\"{shape}];",
                self.key_name(&t.key),
                t.op.name()
            );
            for inp in &t.inputs {
                let _ = writeln!(s, "  t{} -> t{i};", inp.0);
            }
        }
        s.push_str("}\n");
        s
    }
}
